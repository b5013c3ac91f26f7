"""Side-by-side training of the bundles at equal compute: ``monai-synth compare`` and ``ablate-stylegan2``."""
