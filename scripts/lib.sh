# Shared settings for the build and VM scripts. Source it; do not run it.
# One Debian 6.12 version for the source and the stock image.
HVL_KVER=${HVL_KVER:-6.12.117}
HVL_DEBVER=${HVL_DEBVER:-6.12.117-1~deb12u1}
HVL_STOCK_REL=${HVL_STOCK_REL:-6.12.117+deb12-amd64}
HVL_CACHE=${HVL_CACHE:-/var/cache/hvenlight}
HVL_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

hvl_log() { printf '[%s] %s\n' "${HVL_TAG:-hvenlight}" "$*" >&2; }
hvl_die() { hvl_log "error: $*"; exit 1; }
