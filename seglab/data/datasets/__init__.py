"""Dataset types, one module per dataset family with its METAINFO beside it.

``base.BaseSegDataset`` reads any ``img_dir``/``ann_dir`` layout; most named datasets only fix classes,
palette, suffixes and ``reduce_zero_label``. A family with its own layout (Decathlon's dataset.json, change
detection's image pairs, NYU's depth maps) overrides ``list_samples`` and its attributes in its own module,
which both loading and ``seglab check-data`` use. Modules here are imported on first use through
``seglab.registry``; import a module directly for its class.
"""
