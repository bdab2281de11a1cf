"""Test harness: real processes and servers the tests drive.

- `runtimes`: relocatable CPython archives built from Debian's upstream source tarballs, cached
  under ~/.cache/python-buildpack/runtimes-v<N>/, plus a manifest writer (`cpython_sources` finds
  and downloads the sources).
- `http_server`: a local file server on 127.0.0.1 with request recording and fault injection.
- `phases`: runs bin/detect and bin/build with a clean environment.
"""
