//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package redresssql

import (
	"errors"
	"net"
	"syscall"
)

func peek(nc net.Conn) peekResult {
	for {
		u, ok := nc.(interface{ NetConn() net.Conn }) // *tls.Conn
		if !ok {
			break
		}
		nc = u.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return peekAlive // cannot tell: behave as without the check
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return peekAlive
	}
	res := peekAlive
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case errors.Is(rerr, syscall.EAGAIN), errors.Is(rerr, syscall.EINTR):
			res = peekAlive
		case rerr != nil:
			res = peekClosed
		case n == 0:
			res = peekClosed
		default:
			res = peekPending
		}
		return true // never wait for readiness
	})
	if err != nil {
		return peekAlive
	}
	return res
}
