package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/stack/stacktest"
)

// TestDoctorWarnsAboutAnotherKratos: hera doctor compares Kratos's release
// with kratos.MirroredVersion. The test stack's Kratos (bin/kratos, stamped
// with its release by scripts/build-ory.sh) passes; a Kratos admin API
// answering another release gives one warning, which the summary counts
// and which leaves the exit status 0 — a deployment gate does not stop on
// it — and Hera's start-up checks log it. Before the change no release was
// compared (and bin/kratos called itself "master").
func TestDoctorWarnsAboutAnotherKratos(t *testing.T) {
	e := stacktest.Start(t, stacktest.Options{})

	out, code := runDoctorCmd(t, doctorEnv(e, nil))
	if code != 0 || !strings.Contains(out, "✓ Kratos is "+kratos.MirroredVersion+",") || strings.Contains(out, "warning") {
		t.Errorf("the stack's Kratos: exit %d, want 0 and the release check passed:\n%s", code, out)
	}

	// Kratos's admin API, but /admin/version answers another release.
	target, _ := url.Parse(e.Kratos.AdminURL)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(res *http.Response) error {
		if res.Request.URL.Path == "/admin/version" && res.StatusCode == http.StatusOK {
			res.Body.Close()
			body := []byte(`{"version":"v1.2.0"}`)
			res.Body = io.NopCloser(bytes.NewReader(body))
			res.ContentLength = int64(len(body))
			res.Header.Set("Content-Length", strconv.Itoa(len(body)))
		}
		return nil
	}
	other := httptest.NewServer(rp)
	t.Cleanup(other.Close)
	env := doctorEnv(e, map[string]string{"KRATOS_ADMIN_URL": other.URL})

	for _, plain := range []bool{false, true} {
		var args []string
		mark := "! "
		if plain {
			args, mark = []string{"-plain"}, "WARN "
		}
		out, code := runDoctorCmd(t, env, args...)
		t.Logf("hera doctor %v with Kratos saying v1.2.0 (exit %d):\n%s", args, code, out)
		if code != 0 {
			t.Errorf("exit %d, want 0: a warning is no problem", code)
		}
		if !strings.Contains(out, "\n"+mark+"Kratos is v1.2.0, not "+kratos.MirroredVersion) {
			t.Errorf("no warning line %q", mark+"Kratos is v1.2.0")
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if summary := lines[len(lines)-1]; !strings.HasPrefix(summary, "No problems found") || !strings.Contains(summary, "1 warning") {
			t.Errorf("summary line %q, want no problems and 1 warning", summary)
		}
	}

	// Hera's start-up checks log the warning as a warning.
	addr := closedAddr(t)
	runEnv := copyEnv(env)
	runEnv["HERA_LISTEN"] = addr
	var logs syncBuffer
	startHeraOut(t, runEnv, &logs)
	found := false
	for _, l := range waitLogLine(t, &logs, "configuration checked", 30*time.Second) {
		if l["msg"] == "configuration warning" && l["check"] == "kratos.version" && l["level"] == "WARN" {
			found = true
		}
		if l["msg"] == "configuration checked" && l["problems"] != float64(0) {
			t.Errorf("start-up checks: %v", l)
		}
	}
	if !found {
		t.Errorf("no start-up warning for kratos.version:\n%s", logs.String())
	}
}
