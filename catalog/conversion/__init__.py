"""Conversion of TIFF and HDF5 stacks into OME-Zarr in the publication bucket.

``readers`` opens sources as z-slabs, ``labels`` turns colour-coded labels into integer ids,
``writer`` lays out and writes OME-Zarr multiscales (reusable for any region source),
``store`` is zarr's view of ``catalog.s3``, and ``engine`` plans and runs the parts.
"""
