"""Foundation-level file I/O: verified checkpoint downloads (``download``) and a loader that keeps a
checkpoint's tensors and plain data and nothing else (``safe_pickle``). Nothing here imports models or
the engine; import the submodules directly."""
