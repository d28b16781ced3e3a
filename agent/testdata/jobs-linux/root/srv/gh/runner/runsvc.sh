#!/bin/bash
# convert SIGTERM signal to SIGINT
trap 'kill -INT $PID' TERM INT
./bin/Runner.Listener run --startuptype service &
PID=$!
wait $PID
