#!/usr/bin/env bash
# A Docker engine that is "another machine" as far as dqtest can tell: a
# second dockerd in a network namespace of its own, reached over a veth pair
# at tcp://10.250.77.2:2375 (the host side is 10.250.77.1/30). Its
# containers' bridge addresses live in that namespace and are not reachable
# from this one, as a remote host's are not; only ports it publishes are.
# Used by the remote-engine test (harness/docker/remote_docker_test.go) and
# by hand (docs/matrix.md, "Remote engines").
#
#   build/netns-engine.sh up      # namespace, veth, dockerd, node images loaded
#   build/netns-engine.sh down    # every one of them removed again (idempotent)
#   build/netns-engine.sh check   # exit 0 when it is up and answers
#
# Touches nothing of the machine's own engine: its own namespace (whose
# iptables are its own, so its dockerd keeps iptables on), socket, data root
# (/var/lib/dqtest-remote), exec root and pid file (/run/dqtest-remote). Needs
# root, dockerd, ip and the docker CLI. Override the /30 with
# DQTEST_NETNS_NET=10.250.N (default 10.250.77).
set -euo pipefail
NS=${DQTEST_NETNS:-dqtest-remote}
NET=${DQTEST_NETNS_NET:-10.250.77}
HOST_IF=dqr-host
NS_IF=dqr-ns
RUN=/run/dqtest-remote
DATA=/var/lib/dqtest-remote
SOCK=$RUN/docker.sock
URL=tcp://$NET.2:2375

log() { echo "netns-engine: $*" >&2; }

answers() { docker -H "unix://$SOCK" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

down() {
	if [[ -f $RUN/docker.pid ]]; then
		pid=$(cat "$RUN/docker.pid")
		if kill -0 "$pid" 2>/dev/null; then
			# Containers first, so that nothing is left mounted.
			if answers; then
				ids=$(docker -H "unix://$SOCK" ps -aq)
				[[ -z $ids ]] || docker -H "unix://$SOCK" rm -f $ids >/dev/null 2>&1 || true
			fi
			kill -TERM "$pid" 2>/dev/null || true
			for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
			kill -0 "$pid" 2>/dev/null && { log "dockerd $pid did not stop in 30 s: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; sleep 1; }
		fi
	fi
	# Whatever dockerd left mounted under its roots.
	for m in $(awk -v r="$RUN" -v d="$DATA" '$2 ~ "^"r || $2 ~ "^"d {print $2}' /proc/self/mounts | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	ip link del "$HOST_IF" 2>/dev/null || true
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$RUN" "$DATA"
	log "down: namespace $NS, veth $HOST_IF, dockerd, $RUN and $DATA removed"
}

up() {
	command -v dockerd >/dev/null || { log "no dockerd here"; exit 3; }
	command -v ip >/dev/null || { log "no ip here"; exit 3; }
	if ip netns list | grep -qw "$NS"; then log "namespace $NS exists: run down first"; exit 3; fi
	# The /30 must be unused here.
	if ip -4 route | grep -q "^$NET\."; then log "$NET.0/30 is routed here already: pick another with DQTEST_NETNS_NET"; exit 3; fi
	trap 'rc=$?; [[ $rc == 0 ]] || { log "up failed ($rc): cleaning up"; down; }' EXIT
	mkdir -p "$RUN" "$DATA"
	ip netns add "$NS"
	ip link add "$HOST_IF" type veth peer name "$NS_IF"
	ip link set "$NS_IF" netns "$NS"
	ip addr add "$NET.1/30" dev "$HOST_IF"
	ip link set "$HOST_IF" up
	ip netns exec "$NS" ip link set lo up
	ip netns exec "$NS" ip addr add "$NET.2/30" dev "$NS_IF"
	ip netns exec "$NS" ip link set "$NS_IF" up
	# The same storage driver and MTU as the machine's engine (its root is
	# an overlay, so fuse-overlayfs).
	cfg=$RUN/daemon.json
	driver=$(docker info --format '{{.Driver}}' 2>/dev/null || echo overlay2)
	printf '{"storage-driver":"%s","mtu":1400}\n' "$driver" >"$cfg"
	# nsenter --net, not `ip netns exec`: that one also remounts /sys for
	# the namespace, which hides the cgroup mounts below /sys/fs/cgroup
	# ("failed to start daemon: Devices cgroup isn't mounted"). setsid: its
	# own session, so a Ctrl-C of the caller does not reach it before down.
	setsid nsenter --net="/run/netns/$NS" dockerd --config-file "$cfg" \
		-H "$URL" -H "unix://$SOCK" \
		--data-root "$DATA" --exec-root "$RUN/exec" --pidfile "$RUN/docker.pid" \
		>"$RUN/dockerd.log" 2>&1 </dev/null &
	for _ in $(seq 1 60); do answers && break; sleep 0.5; done
	answers || { log "dockerd did not answer in 30 s:"; tail -5 "$RUN/dockerd.log" >&2; exit 3; }
	# The node images (every version's tag), from the machine's engine:
	# dqtest never pulls, and a remote engine gets its images this way.
	began=$(date +%s%N)
	imgs=$(docker images --format '{{.Repository}}:{{.Tag}}' dqtest-node | grep -E '^dqtest-node:([0-9]+\.[0-9]+\.[0-9]+|latest)$' || true)
	[[ -n $imgs ]] || { log "no dqtest-node image on the machine's engine: make image"; exit 3; }
	docker save $imgs | docker -H "unix://$SOCK" load -q >/dev/null
	log "up: dockerd in namespace $NS at $URL and unix://$SOCK; images loaded in $(( ($(date +%s%N) - began) / 1000000 )) ms: $(echo $imgs)"
	trap - EXIT
	echo "$URL"
}

case ${1:-} in
up) up ;;
down) down ;;
check) answers ;;
*) echo "usage: $0 up|down|check" >&2; exit 2 ;;
esac
