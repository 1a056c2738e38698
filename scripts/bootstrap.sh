#!/usr/bin/env bash
# Installs the system packages the toolkit needs, idempotently: nothing happens when they are
# already present. Debian/Ubuntu (apt). Runs as root or through sudo.
#   libgsl-dev, pkg-config : the statistics module (GSL, found with pkg-config)
#   ocl-icd-libopencl1, pocl-opencl-icd : the OpenCL backend of the parity runner (CPU device)
#   gnuplot-nox : the report's figures (SVG); without it the report still completes and says so
#   libopenblas-dev : BLAS for the training lab (UNLab's matrix products, found with pkg-config)
set -euo pipefail
packages=(libgsl-dev pkg-config ocl-icd-libopencl1 pocl-opencl-icd gnuplot-nox libopenblas-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "bootstrap: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
