#!/bin/bash
./bin/Runner.Listener run --startuptype service
