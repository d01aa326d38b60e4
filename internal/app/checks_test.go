package app

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/heraproject/hera/internal/config"
	"github.com/heraproject/hera/internal/doctor"
	"github.com/heraproject/hera/internal/stack"
)

// TestDoctorChecksMail: hera doctor's mail checks, with the configuration
// as Hera reads it, against a real SMTP server: one that answers passes;
// TLS is required unless tls=none (loopback); nothing listening fails;
// no HERA_SMTP_URL warns; and "new sign-in" mails want
// HERA_DEVICE_COOKIE_SECRET.
func TestDoctorChecksMail(t *testing.T) {
	plain, err := stack.StartSMTPSink(stack.NewMailbox(), stack.SMTPSinkConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	for _, c := range []struct {
		name         string
		env          map[string]string
		smtp, signIn doctor.Status
		says         string
	}{
		{"answers", map[string]string{"HERA_SMTP_URL": plain.URL}, doctor.Pass, doctor.Warn, "alert mails can be sent"},
		{"answers, with a device-cookie secret", map[string]string{"HERA_SMTP_URL": plain.URL,
			"HERA_DEVICE_COOKIE_SECRET": strings.Repeat("k", 32)}, doctor.Pass, doctor.Pass, "alert mails can be sent"},
		{"STARTTLS required", map[string]string{"HERA_SMTP_URL": strings.TrimSuffix(plain.URL, "?tls=none")}, doctor.Fail, doctor.Warn, "tls"},
		{"down", map[string]string{"HERA_SMTP_URL": "smtp://" + closed + "?tls=none"}, doctor.Fail, doctor.Warn, "connect"},
		{"no SMTP", map[string]string{}, doctor.Warn, -1, "no alert mails"},
	} {
		env := map[string]string{"KRATOS_PUBLIC_URL": "http://127.0.0.1:4433", "KRATOS_ADMIN_URL": "http://127.0.0.1:4434"}
		for k, v := range c.env {
			env[k] = v
		}
		if env["HERA_SMTP_URL"] != "" {
			env["HERA_SMTP_FROM"] = "Hera <no-reply@example.com>"
		}
		cfg, err := config.Load(func(k string) string { return env[k] })
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		rs := doctor.CheckMail(context.Background(), DoctorOptions(cfg, nil).Mail)
		t.Logf("%s: %s", c.name, rs[0].Message)
		if rs[0].Status != c.smtp || !strings.Contains(rs[0].Message, c.says) {
			t.Errorf("%s: %+v", c.name, rs[0])
		}
		if c.signIn == -1 {
			if len(rs) != 1 {
				t.Errorf("%s: %+v", c.name, rs)
			}
		} else if len(rs) != 2 || rs[1].Status != c.signIn {
			t.Errorf("%s: %+v", c.name, rs)
		}
	}
}

// TestDoctorChecksActivity: hera doctor warns, from the configuration as
// Hera reads it, when HERA_KRATOS_WEBHOOK_SECRET is not set, and passes
// when it is.
func TestDoctorChecksActivity(t *testing.T) {
	for _, c := range []struct {
		secret string
		want   doctor.Status
	}{{"", doctor.Warn}, {strings.Repeat("w", 32), doctor.Pass}} {
		env := map[string]string{"KRATOS_PUBLIC_URL": "http://127.0.0.1:4433", "KRATOS_ADMIN_URL": "http://127.0.0.1:4434",
			"HERA_KRATOS_WEBHOOK_SECRET": c.secret}
		cfg, err := config.Load(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		o := DoctorOptions(cfg, nil)
		if o.Activity == nil {
			t.Fatal("DoctorOptions: no activity check")
		}
		if r := doctor.CheckActivity(o.Activity); r.Status != c.want {
			t.Errorf("secret %q: %+v", c.secret, r)
		}
	}
}
