"""The restore application: ``python -m monai_synth.deploy.restore -i STUDY_DIR -o OUT -m BUNDLE_DIR``.

A DICOM study folder -> the series chosen by the selection rules -> Med-cDiff restoration from an exported
bundle -> a DERIVED series in the same study, under ``OUT/<SeriesInstanceUID>/``. See docs/deploy.md.
"""
