#!/bin/bash
# tls.sh DIR [DNS-NAME...]
#
# Makes a throwaway certificate authority and a server certificate for the
# cloud emulators, which serve TLS because the real clients (MSAL,
# azure-identity, the Key Vault SDK, libcurl in cspf) insist on https.
#
#   DIR/ca.pem       the CA certificate: trust it with REQUESTS_CA_BUNDLE,
#                    SSL_CERT_FILE, CURL_CA_BUNDLE or curl --cacert
#   DIR/server.pem   the server certificate (signed by the CA)
#   DIR/server.key   its private key (mode 0600)
#
# The server certificate names 127.0.0.1, ::1 and localhost, plus any extra
# DNS names given after DIR (e.g. data-kv.localhost, to reach one Key Vault
# by host name with libcurl, which resolves *.localhost to loopback itself).
# The CA key is thrown away once the certificate is signed: nothing else can
# ever be signed by this CA.
set -eu
if [ $# -lt 1 ]; then
	echo "usage: tls.sh DIR [DNS-NAME...]" >&2
	exit 2
fi
dir=$1
shift
command -v openssl >/dev/null || { echo "tls.sh: openssl not found" >&2; exit 2; }
mkdir -p "$dir"
work=$(mktemp -d "${TMPDIR:-/tmp}/cspf-tls.XXXXXX")
trap 'rm -rf "$work"' EXIT
umask 077

san="IP:127.0.0.1,IP:::1,DNS:localhost"
for name in "$@"; do
	case $name in
	*[!A-Za-z0-9.*-]* | "") echo "tls.sh: bad DNS name: $name" >&2; exit 2 ;;
	esac
	san="$san,DNS:$name"
done

# The CA: EC P-256, valid two days, basicConstraints CA:TRUE.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$work/ca.key" -out "$work/ca.pem" -days 2 \
	-subj "/CN=cspf emulator test CA $(date -u +%Y%m%dT%H%M%S)-$$" \
	-addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" 2>"$work/err" ||
	{ cat "$work/err" >&2; exit 1; }

# The server key and a request, then the certificate signed by the CA.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$work/server.key" -out "$work/server.csr" \
	-subj "/CN=localhost" 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
cat >"$work/ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$san
EXT
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" \
	-CAkey "$work/ca.key" -CAcreateserial -days 2 -sha256 \
	-extfile "$work/ext" -out "$work/server.pem" 2>"$work/err" ||
	{ cat "$work/err" >&2; exit 1; }

openssl verify -CAfile "$work/ca.pem" "$work/server.pem" >/dev/null

install -m 0644 "$work/ca.pem" "$dir/ca.pem"
install -m 0644 "$work/server.pem" "$dir/server.pem"
install -m 0600 "$work/server.key" "$dir/server.key"
