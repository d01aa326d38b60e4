//go:build integration

package doctor_test

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

	"github.com/heraproject/hera/internal/doctor"
	"github.com/heraproject/hera/internal/kratos"
	"github.com/heraproject/hera/internal/stack/stacktest"
)

// otherVersionAdmin is Kratos's admin API behind a reverse proxy that
// answers GET /admin/version with another release and passes the rest.
func otherVersionAdmin(t *testing.T, admin, version string) *url.URL {
	t.Helper()
	target := mustURL(t, admin)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(res *http.Response) error {
		if res.Request.URL.Path != "/admin/version" || res.StatusCode != http.StatusOK {
			return nil
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		body := []byte(`{"version":"` + version + `"}`)
		res.Body = io.NopCloser(bytes.NewReader(body))
		res.ContentLength = int64(len(body))
		res.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return mustURL(t, srv.URL)
}

// versionResult is the report's kratos.version result.
func versionResult(t *testing.T, r doctor.Report) doctor.Result {
	t.Helper()
	for _, res := range r.Results {
		if res.Check == "kratos.version" {
			return res
		}
	}
	t.Fatalf("no kratos.version check in %+v", r.Results)
	return doctor.Result{}
}

// TestKratosVersion: the doctor compares Kratos's release (its admin API's
// /admin/version) with the one whose reading of identifiers Hera mirrors
// (kratos.MirroredVersion): the test stack's Kratos, built by
// scripts/build-ory.sh stamped with its release, passes; another release
// is a warning — reported with its setting and fix, counted in the
// summary, and no problem. Before the change there was no such check and
// no Warn status (this did not compile), and bin/kratos answered
// "master", not its release.
func TestKratosVersion(t *testing.T) {
	e := stacktest.Start(t, stacktest.Options{})

	o := options(t, e)
	o.KratosVersion = kratos.MirroredVersion
	r := runDoctor(t, o)
	if res := versionResult(t, r); res.Status != doctor.Pass || !strings.Contains(res.Message, kratos.MirroredVersion) {
		t.Errorf("the stack's Kratos: %+v, want a pass naming %s", res, kratos.MirroredVersion)
	}
	if r.Failed() != 0 || r.Warned() != 0 || strings.Contains(r.Summary(), "warning") {
		t.Errorf("the stack's Kratos: %d problems, %d warnings: %s", r.Failed(), r.Warned(), r.Summary())
	}

	o.KratosAdminURL = otherVersionAdmin(t, e.Kratos.AdminURL, "v1.2.0")
	r = runDoctor(t, o)
	res := versionResult(t, r)
	if res.Status != doctor.Warn || !strings.Contains(res.Message, "v1.2.0") || !strings.Contains(res.Message, kratos.MirroredVersion) ||
		res.Setting == "" || res.Fix == "" {
		t.Errorf("another Kratos: %+v, want a warning naming both releases, with setting and fix", res)
	}
	if r.Failed() != 0 || r.Warned() != 1 {
		t.Errorf("another Kratos: %d problems, %d warnings, want 0 and 1", r.Failed(), r.Warned())
	}
	if s := r.Summary(); !strings.HasPrefix(s, "No problems found") || !strings.Contains(s, ", 1 warning") {
		t.Errorf("summary %q, want no problems and 1 warning", s)
	}
	for _, plain := range []bool{false, true} {
		var out strings.Builder
		if err := r.Write(&out, plain); err != nil {
			t.Fatal(err)
		}
		mark := "! Kratos is v1.2.0"
		if plain {
			mark = "WARN Kratos is v1.2.0"
		}
		if !strings.Contains(out.String(), "\n"+mark) && !strings.HasPrefix(out.String(), mark) {
			t.Errorf("report (plain %v) lacks %q:\n%s", plain, mark, out.String())
		}
		if !strings.Contains(out.String(), "  setting: "+res.Setting) {
			t.Errorf("report (plain %v) does not show the warning's setting:\n%s", plain, out.String())
		}
	}

	// A Kratos whose version cannot be read is not checked: no warning.
	o.KratosAdminURL = otherVersionAdmin(t, e.Kratos.AdminURL, "")
	if res := versionResult(t, runDoctor(t, o)); res.Status != doctor.Skip {
		t.Errorf("no version: %+v, want not checked", res)
	}
}
