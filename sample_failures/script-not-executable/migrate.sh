#!/bin/sh
echo "migrating the database schema"
