#!/bin/sh
# Builds the libFuzzer targets for the parsers that read bytes from the network (see
# fuzz/README.md) into build-fuzz/, with AddressSanitizer and UndefinedBehaviorSanitizer; UB aborts.
# Each target links only the sources it needs, so files being edited elsewhere do not break it.
# Usage: fuzz/build.sh [target...]      (default: all targets)
# Environment: CXX (default clang++-14), EXTRA_FLAGS (added to the compile command).
set -eu

cd "$(dirname "$0")/.."
CXX=${CXX:-clang++-14}
OUT=build-fuzz
FLAGS="-std=c++20 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Isrc -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers ${EXTRA_FLAGS:-}"

# target: its sources (the fuzz driver and fuzz_support.cpp first) and libraries.
sources_of() {
  case "$1" in
    proxy_protocol) echo "fuzz/proxy_protocol_fuzz.cpp fuzz/fuzz_support.cpp src/smtp/proxy_protocol.cpp" ;;
    smtp_session)   echo "fuzz/smtp_session_fuzz.cpp fuzz/fuzz_support.cpp src/smtp/session.cpp src/smtp/command.cpp src/smtp/data_reader.cpp src/smtp/reply.cpp -lfmt" ;;
    data_reader)    echo "fuzz/data_reader_fuzz.cpp fuzz/fuzz_support.cpp src/smtp/data_reader.cpp" ;;
    reply_parser)   echo "fuzz/reply_parser_fuzz.cpp fuzz/fuzz_support.cpp src/smtp/reply_parser.cpp src/smtp/reply.cpp -lfmt" ;;
    command)        echo "fuzz/command_fuzz.cpp fuzz/fuzz_support.cpp src/smtp/command.cpp" ;;
    spf_record)     echo "fuzz/spf_record_fuzz.cpp fuzz/fuzz_support.cpp src/checks/spf/record.cpp src/checks/spf/macro.cpp -lfmt" ;;
    mime)           echo "fuzz/mime_fuzz.cpp fuzz/fuzz_support.cpp src/content/mime.cpp src/content/attachments.cpp $(pkg-config --cflags --libs gmime-3.0) -lmagic -larchive -lfmt" ;;
    html_urls)      echo "fuzz/html_urls_fuzz.cpp fuzz/fuzz_support.cpp src/content/html.cpp src/content/urls.cpp src/common/organizational_domain.cpp -lgumbo -lidn2 -lpsl -lre2 -licuuc" ;;
    *) echo "unknown fuzz target: $1" >&2; return 1 ;;
  esac
}

ALL_TARGETS="proxy_protocol smtp_session data_reader reply_parser command spf_record html_urls mime"
TARGETS=${*:-$ALL_TARGETS}

mkdir -p "$OUT"
for target in $TARGETS; do
  sources=$(sources_of "$target")
  echo "building $OUT/$target"
  # shellcheck disable=SC2086  # word splitting of the flag and source lists is intended
  $CXX $FLAGS $sources -o "$OUT/$target"
done

# Dictionaries of protocol tokens help the mutator reach deep states quickly.
cat > "$OUT/smtp_session.dict" <<'EOF'
"HELO "
"EHLO "
"MAIL FROM:"
"RCPT TO:"
"DATA"
"BDAT "
" LAST"
"RSET"
"NOOP"
"QUIT"
"VRFY "
"EXPN "
"HELP"
"STARTTLS"
"AUTH PLAIN"
"\x0d\x0a"
"\x0d\x0a.\x0d\x0a"
"\x0a.\x0a"
"\x0d\x0a.\x0d"
" SIZE="
" BODY=8BITMIME"
" SMTPUTF8"
"<postmaster>"
"<>"
"<a@b.example>"
EOF
cat > "$OUT/command.dict" <<'EOF'
"FROM:"
"TO:"
"<"
">"
"@"
"\x22"
"\x5c"
"[IPv6:"
"[192.0.2.1]"
" SIZE="
" BODY="
"8BITMIME"
"7BIT"
" SMTPUTF8"
"postmaster"
"@a,@b:"
EOF
cat > "$OUT/proxy_protocol.dict" <<'EOF'
"PROXY "
"TCP4 "
"TCP6 "
"UNKNOWN"
"\x0d\x0a"
"255.255.255.255 "
"::ffff:"
"65535"
"\x0d\x0a\x0d\x0a\x00\x0d\x0aQUIT\x0a"
"\x21\x11\x00\x0c"
"\x21\x21\x00\x24"
"\x20\x00\x00\x00"
"\x03\x00\x04"
EOF
cat > "$OUT/data_reader.dict" <<'EOF'
"\x0d\x0a.\x0d\x0a"
"\x0d\x0a.."
"\x0a.\x0a"
"\x0d.\x0d"
"\x0d\x0a.\x0d"
EOF
cat > "$OUT/reply_parser.dict" <<'EOF'
"250-"
"250 "
"\x0d\x0a"
"2.1.5 "
"5.7.1 "
"421 4.3.2 "
EOF
cat > "$OUT/spf_record.dict" <<'EOF'
"v=spf1 "
" -all"
" ~all"
"?all"
"+"
"include:"
"exists:"
"a:"
"mx:"
"ptr:"
"ip4:"
"ip6:"
"/24"
"//64"
"redirect="
"exp="
"%{"
"}"
"%%"
"%_"
"%-"
"%{d}"
"%{d2}"
"%{ir}"
"%{l1r-}"
"%{i}"
"%{v}"
"%{p}"
"%{H}"
"._spf."
".example.com"
"192.0.2.0"
"2001:db8::"
"::ffff:"
"\x0d"
"\x0a"
"\x00"
EOF
cat > "$OUT/html_urls.dict" <<'EOF'
"<a href=\x22"
"\x22>"
"</a>"
"<img src="
"<form action="
"<div style=\x22display:none\x22>"
"<font color=\x22#ffffff\x22>"
" bgcolor="
"<!--"
"-->"
"<p>"
"<br>"
"<style>"
"http://"
"https://"
"hxxp://"
"h**p://"
"[.]"
"(.)"
"[:]//"
"www."
"xn--"
"%2e"
"0x"
"@"
"?url=http%3A%2F%2F"
"&#8203;"
"&amp;"
EOF
echo "done: $(echo "$TARGETS" | wc -w) target(s) in $OUT/"
