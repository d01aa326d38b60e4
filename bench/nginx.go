package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/heraproject/hera/internal/stack"
)

// nginxProxy is Debian's nginx as the cheapest hop an operator would put in
// front of Kratos: a plain reverse proxy with keep-alive connections to
// Kratos, no caching, no logging. The nginx arm of each comparison sends
// the direct side's requests through it, so Hera's page and proxy are also
// measured against a hop that does nothing but forward.
type nginxProxy struct {
	cmd  *exec.Cmd
	done chan struct{}
	url  string // http://127.0.0.1:<port>
}

const nginxConf = `daemon off;
master_process on;
worker_processes auto;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path %[1]s/body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	upstream kratos {
		server %[2]s;
		keepalive 256;
	}
	server {
		listen 127.0.0.1:%[3]d;
		keepalive_requests 1000000;
		location / {
			proxy_pass http://kratos;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host %[2]s;
		}
	}
}
`

// startNginx starts nginx on a free loopback port in front of the Kratos
// at upstream (host:port) and waits until it answers.
func startNginx(ctx context.Context, dir, upstream string) (*nginxProxy, error) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, err2 := os.Stat("/usr/sbin/nginx"); err2 != nil {
			return nil, errors.New("the nginx arm needs Debian's nginx (apt-get install nginx-light), or run with -nginx=false")
		}
		bin = "/usr/sbin/nginx"
	}
	port, err := stack.FreePort()
	if err != nil {
		return nil, err
	}
	base := filepath.Join(dir, "nginx")
	if err := os.MkdirAll(base, 0o777); err != nil {
		return nil, err
	}
	// Workers run as nobody when started as root: they write temporary files.
	if err := os.Chmod(base, 0o777); err != nil {
		return nil, err
	}
	conf := filepath.Join(base, "nginx.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConf, base, upstream, port), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-c", conf, "-p", base, "-e", filepath.Join(base, "error.log"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start nginx: %w", err)
	}
	n := &nginxProxy{cmd: cmd, done: make(chan struct{}), url: "http://127.0.0.1:" + strconv.Itoa(port)}
	go func() { _ = cmd.Wait(); close(n.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			c.Close()
			return n, nil
		}
		select {
		case <-n.done:
			log, _ := os.ReadFile(filepath.Join(base, "error.log"))
			return nil, fmt.Errorf("nginx exited: %s", log)
		case <-ctx.Done():
			n.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			n.stop()
			return nil, errors.New("nginx did not start listening within 10 s")
		}
	}
}

// pid is the master's process id: its workers are its children.
func (n *nginxProxy) pid() string { return strconv.Itoa(n.cmd.Process.Pid) }

func (n *nginxProxy) stop() {
	_ = n.cmd.Process.Signal(syscall.SIGQUIT) // graceful: workers finish
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
		<-n.done
	}
}
