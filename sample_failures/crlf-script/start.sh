#!/bin/sh
echo "starting"
