#!/usr/bin/env bash
# CI: Debian packages the report tests use: pdflatex + booktabs (texlive) to compile every LaTeX
# table, and headless Chromium to open the HTML report. Needs root (or sudo). About 60 s after
# the package index update (texlive-latex-recommended ~40 s, chromium-headless-shell ~15 s).
set -euo pipefail
if command -v pdflatex >/dev/null && kpsewhich booktabs.sty >/dev/null \
  && command -v chromium-headless-shell >/dev/null; then
  echo "report tools already installed"
  exit 0
fi
SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends \
  texlive-latex-base texlive-latex-recommended texlive-fonts-recommended chromium-headless-shell
