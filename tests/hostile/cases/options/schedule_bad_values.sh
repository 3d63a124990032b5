#!/usr/bin/env bash
# Bad schedules (after, for, count) are refused before anything runs, each
# naming the option and the field: nan, negative, a week and a day, a unit
# that is not one, a fraction of a count.
set -u
fail=0
check() {  # check EXPECTED_STDERR ARGS...
  local want=$1; shift
  local err code
  err=$(timeout 10 "$FAULTLINE" "$@" 2>&1 >/dev/null); code=$?
  if [ "$code" != 2 ] || [[ "$err" != *"$want"* ]]; then
    echo "FAIL: $* -> exit $code: $err (wanted exit 2 and: $want)"; fail=1
  fi
}
p=(proxy --listen 127.0.0.1:0 --upstream 127.0.0.1:9)
check '/after: must be a duration' "${p[@]}" --fault 'latency,latency=5,after=nan'
check '/after: must be from 0 to one week' "${p[@]}" --fault 'latency,latency=5,after=-1'
check '/for: must be from 1 ms to one week' "${p[@]}" --fault 'latency,latency=5,for=8d'
check '/for: must be a duration' "${p[@]}" --fault 'latency,latency=5,for=3 parsecs'
check '/for: must be from 1 ms to one week' "${p[@]}" --fault 'latency,latency=5,for=0'
check '/count: must be a whole number' "${p[@]}" --fault 'latency,latency=5,count=1.5'
check '/count: must be a whole number' "${p[@]}" --fault '{"type":"latency","count":0}'
check '/count: must be a whole number' wrap --fault 'drop,count=-2' -- true
check '/after: must be a duration' wrap --fault '{"type":"drop","after":{"ms":5}}' -- true
exit $fail
