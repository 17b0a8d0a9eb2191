"""Compressed-sensing MRI: fastMRI data, undersampling masks, SENSE operators,
a unified neural-operator reconstruction (NO-MRI style) and its baselines."""
