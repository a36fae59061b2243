#!/usr/bin/env bash
# Builds the controller image without a daemon (buildah, from scratch): this machine's node binary and exactly
# the shared libraries it loads, /usr/bin/env for the `#!/usr/bin/env node` shebang, a non-root user (65532), and
# the app as npm ships it (package.json `files`, production dependencies only). `stepwise` is the entrypoint and
# `controller` the default command; OCI labels carry the version and source revision. Reproducible: every file
# and the image config are stamped with the epoch, so two builds of one tree give the same manifest digest.
#
#   scripts/image/build.sh                 # build (or reuse the cached archive of the same inputs), print it
#   scripts/image/build.sh --no-cache DIR  # build afresh into DIR (the reproducibility check)
#
# Prints `archive`, `digest`, `bytes` (the archive), `rootfs-bytes` (the image unpacked) and `seconds` (of the
# build; `cached` instead when the archive of the same inputs was there). Needs `npm run build` first, and
# Debian's buildah and skopeo (.ci/run installs them). The cache is ${STEPWISE_CACHE:-~/.cache/stepwise}/image,
# keyed by a hash of every input.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

started=$(date +%s%N)
cache="${STEPWISE_CACHE:-$HOME/.cache/stepwise}/image"
out=$cache use_cache=1
if [[ ${1:-} == --no-cache ]]; then use_cache=0 out=${2:?--no-cache needs an output directory}; fi
for tool in buildah skopeo; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool is missing (apt-get install buildah skopeo)" >&2; exit 1; }
done
[[ -f dist/src/cli/main.js ]] || { echo 'build.sh: no dist/: run `npm run build` first' >&2; exit 1; }

version=$(node -p 'require("./package.json").version')
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- 2>/dev/null || revision="$revision-dirty"
node_bin=$(readlink -f "$(command -v node)")
# What the app ships, without the cdk8s constructs (a library for cdk8s apps, not the controller's).
shipped=(package.json package-lock.json bin dist/src schema templates helm-plugin traits)
libraries() { ldd "$1" | grep -o '/[^ ]*'; }

key=$( {
  sha256sum "$node_bin" /usr/bin/env $(libraries "$node_bin") "${BASH_SOURCE[0]}"
  find "${shipped[@]}" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
  echo "$version $revision"
} | sha256sum | cut -c1-16)
archive="$out/stepwise-$version-$key.oci.tar"
if ((use_cache)) && [[ -f $archive && -f $archive.txt ]]; then cat "$archive.txt"; echo cached; exit 0; fi
mkdir -p "$out"

work=$(mktemp -d "${TMPDIR:-/tmp}/stepwise-image.XXXXXX")
trap 'buildah --root "$work/storage" --runroot "$work/run" rm --all >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
root="$work/rootfs"
mkdir -p "$root/usr/local/bin" "$root/usr/bin" "$root/etc" "$root/tmp" "$root/app" "$root/home/stepwise"
chmod 1777 "$root/tmp"
for file in $(libraries "$node_bin") $(libraries /usr/bin/env); do
  mkdir -p "$root$(dirname "$file")" && cp -L "$file" "$root$file"
done
cp -L "$node_bin" "$root/usr/local/bin/node"
cp -L /usr/bin/env "$root/usr/bin/env"
printf 'root:x:0:0:root:/root:/sbin/nologin\nstepwise:x:65532:65532:stepwise:/home/stepwise:/sbin/nologin\n' \
  >"$root/etc/passwd"
printf 'root:x:0:\nstepwise:x:65532:\n' >"$root/etc/group"
cp -r --parents "${shipped[@]}" "$root/app/"
(cd "$root/app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
rm -rf "$root/app/node_modules/.package-lock.json"
ln -s /app/bin/stepwise.js "$root/usr/local/bin/stepwise"
chown -R 65532:65532 "$root/home/stepwise"
find "$root" -exec touch -h -d @0 {} +

b() { buildah --root "$work/storage" --runroot "$work/run" --storage-driver vfs "$@"; }
container=$(b from scratch)
b add "$container" "$root" / >/dev/null
b config --os linux --arch amd64 --user 65532:65532 --workingdir /app \
  --env PATH=/usr/local/bin:/usr/bin --env NODE_ENV=production --env HOME=/home/stepwise \
  --entrypoint '["stepwise"]' --cmd controller \
  --label org.opencontainers.image.title=stepwise \
  --label org.opencontainers.image.version="$version" \
  --label org.opencontainers.image.revision="$revision" \
  --label org.opencontainers.image.source=https://github.com/stepwise-dev/stepwise \
  --label org.opencontainers.image.licenses=Apache-2.0 \
  --created-by 'scripts/image/build.sh' "$container"
b commit --quiet --timestamp 0 --format oci "$container" "stepwise:$version" >/dev/null
b push --quiet "stepwise:$version" "oci-archive:$archive.part:stepwise:$version"
mv "$archive.part" "$archive"
{
  echo "archive $archive"
  echo "digest sha256:$(skopeo inspect --raw "oci-archive:$archive" | sha256sum | cut -d' ' -f1)"
  echo "bytes $(stat -c %s "$archive")"
  echo "rootfs-bytes $(du -sb "$root" | cut -f1)"
} >"$archive.txt"
cat "$archive.txt"
elapsed=$((($(date +%s%N) - started) / 1000000))
printf 'seconds %d.%03d\n' $((elapsed / 1000)) $((elapsed % 1000))
