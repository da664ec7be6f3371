# Shared helpers for scripts/run, scripts/test and scripts/bench. Sourced, not executed.

# Install Debian packages that are missing. Uses sudo when not root.
ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "==> installing: ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# The PKCS#11 module of Debian's softhsm2 package.
softhsm_module() {
  for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
           /usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so; do
    [ -e "$m" ] && { echo "$m"; return 0; }
  done
  echo "libsofthsm2.so not found" >&2
  return 1
}

# 32 hex characters from the kernel's CSPRNG.
random_hex() {
  od -An -N16 -tx1 /dev/urandom | tr -d ' \n'
}

# Make sure a Rust toolchain is on PATH (rustup installs into ~/.cargo/bin).
ensure_cargo() {
  if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
  command -v cargo >/dev/null 2>&1 || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
}

# Kryoptic, the second PKCS#11 implementation of the test matrix (a soft token in Rust),
# built once from its crates.io source and cached under target/kryoptic/; prints the module
# path. Not Debian's default feature set: that needs OpenSSL >= 3.2 (for EdDSA), Debian 12
# has 3.0, and the daemon needs no EdDSA. bindgen needs libclang.
kryoptic_version=1.5.4
kryoptic_features=kryoptic-lib/dynamic,kryoptic-lib/sqlitedb,kryoptic-lib/ecc_min,kryoptic-lib/ec_montgomery,kryoptic-lib/ffdh,kryoptic-lib/hash_all,kryoptic-lib/kdf_all,kryoptic-lib/rsa,kryoptic-lib/hotp,kryoptic-lib/chacha20,kryoptic-lib/ike
kryoptic_module() {
  local root="${1:-$PWD}/target/kryoptic"
  local so="$root/libkryoptic_pkcs11.so" stamp="$root/libkryoptic_pkcs11.so.built"
  local want="$kryoptic_version $kryoptic_features"
  if [ -e "$so" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    echo "$so"
    return 0
  fi
  # libclang for bindgen; it links the system OpenSSL and SQLite. (stdout is the path.)
  ensure_packages libclang-dev libssl-dev libsqlite3-dev pkg-config jq >&2
  echo "==> building Kryoptic $kryoptic_version into $root (once; cached)" >&2
  # A throwaway package that depends on the crate makes cargo fetch its exact source (with
  # the crate's own Cargo.lock), which is then built as a root package.
  mkdir -p "$root/fetch/src"
  printf '[package]\nname = "kryoptic-fetch"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n[dependencies]\nkryoptic = "=%s"\n[workspace]\n' \
    "$kryoptic_version" >"$root/fetch/Cargo.toml"
  echo 'fn main() {}' >"$root/fetch/src/main.rs"
  local manifest
  manifest=$(cargo metadata --quiet --format-version 1 --manifest-path "$root/fetch/Cargo.toml" |
    jq -r '.packages[] | select(.name == "kryoptic") | .manifest_path')
  cargo build --quiet --release --locked --manifest-path "$manifest" \
    --target-dir "$root/build" --no-default-features --features "$kryoptic_features" >&2
  cp "$root/build/release/libkryoptic_pkcs11.so" "$so.tmp"
  mv "$so.tmp" "$so"
  echo "$want" >"$stamp"
  # The module is all that is used; its build tree is a few hundred MB.
  rm -rf "$root/build"
  echo "$so"
}
