#!/usr/bin/env bash
# writer.sh BIN LABEL: durable scenario; every second: writer-thread CPU ticks, whole-process ticks, messages stored
set -u
BIN=$1; LABEL=$2
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
W=$(grep -l orderchat-writ /proc/$PID/task/*/comm | head -1 | xargs dirname)
( while kill -0 $PID 2>/dev/null; do
    w=$(awk '{print $14+$15}' $W/stat 2>/dev/null); p=$(awk '{print $14+$15}' /proc/$PID/stat 2>/dev/null)
    m=$(curl -s http://127.0.0.1:$PORT/metrics | awk '/^orderchat_messages_stored_total/{print $2}')
    echo "$(date +%s.%N) $w $p $m"; sleep 1; done ) > /tmp/ab/writer-$LABEL.samples &
perf stat -e syscalls:sys_enter_sendto,syscalls:sys_enter_sendmsg,syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_futex,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_recvfrom -I 1000 -x, -p $PID -o /tmp/ab/perf-$LABEL.csv &
PERF=$!
/work/main/target/release/orderchat-bench run --url http://127.0.0.1:$PORT --secret $SECRET --server-pid $PID durable 2>/dev/null | tail -1 > /tmp/ab/writer-$LABEL.json
kill -INT $PERF; sleep 0.5; kill -TERM $PID; wait $PID 2>/dev/null
python3 - /tmp/ab/writer-$LABEL.samples <<'PY'
import sys
rows=[l.split() for l in open(sys.argv[1]) if len(l.split())==4]
out=[]
for a,b in zip(rows,rows[1:]):
    dt=float(b[0])-float(a[0]); dm=float(b[3])-float(a[3])
    if dm<2000: continue
    w=(int(b[1])-int(a[1]))/100/dt; p=(int(b[2])-int(a[2]))/100/dt
    out.append((dm/dt, w, p, w/(dm/dt)*1e6, (p-w)/(dm/dt)*1e6))
for r in out: print("stored/s %7.0f  writer cores %.2f  process cores %.2f  writer us/msg %5.1f  others us/msg %5.1f" % r)
PY
