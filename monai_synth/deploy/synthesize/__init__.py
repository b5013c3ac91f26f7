"""The synthesize application: ``python -m monai_synth.deploy.synthesize -i REQUEST.json -o OUT -m BUNDLE_DIR``.

A request file (class labels, counts, seeds) -> Medfusion or StyleGAN2-ADA from an exported bundle -> a
synthetic study of Secondary Capture images under ``OUT/<StudyInstanceUID>/``. See docs/deploy.md.
"""
