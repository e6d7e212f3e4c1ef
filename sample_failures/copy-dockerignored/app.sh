#!/bin/sh
echo "app starting with $(cat /etc/app/app.conf)"
