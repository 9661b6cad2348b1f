#!/usr/bin/env bash
# durable.sh BIN BENCHBIN LABEL: one durable run (one room, then 100 rooms), one JSON line
set -u
BIN=$1; BENCH=$2; LABEL=$3
SECRET=ab-secret-0123456789abcdef0123456789
PORT=3791
DATA=/tmp/ab/data-$LABEL; rm -rf $DATA; mkdir -p $DATA
ulimit -n 20000
env ORDERCHAT_BIND=127.0.0.1:$PORT ORDERCHAT_DATA_DIR=$DATA ORDERCHAT_JWT_SECRET=$SECRET \
 ORDERCHAT_MESSAGE_RATE_PER_MINUTE=1000000000 ORDERCHAT_MESSAGE_BURST=1000000000 \
 ORDERCHAT_TYPING_RATE_PER_MINUTE=1000000000 ORDERCHAT_TYPING_BURST=1000000000 \
 ORDERCHAT_MAX_CONNECTIONS_PER_USER=1000 ORDERCHAT_MAX_CONNECTIONS=1000000 RUST_LOG=warn NO_COLOR=1 \
 $BIN serve >> /tmp/ab/$LABEL.log 2>&1 &
PID=$!
for i in $(seq 100); do curl -sf http://127.0.0.1:$PORT/healthz >/dev/null && break; sleep 0.1; done
echo "$LABEL $($BENCH run --url http://127.0.0.1:$PORT --secret $SECRET --server-pid $PID durable --warmup 1 --duration 5 2>/dev/null | tail -1)"
kill -TERM $PID; wait $PID 2>/dev/null
rm -rf $DATA
