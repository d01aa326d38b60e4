package main

import (
	"io"
	"testing"
	"time"
)

func TestRatioCell(t *testing.T) {
	d := result{n: 1000, elapsed: time.Second}
	h := result{n: 800, elapsed: time.Second}
	for _, c := range []struct {
		rounds []float64
		want   string
	}{
		{nil, "**0.80×**"},
		{[]float64{0.8}, "**0.80×**"},
		{[]float64{0.91, 0.7, 0.85}, "**0.80×** (0.70–0.91)"},
	} {
		if got := ratioCell(phase{direct: d, hera: h, roundRatios: c.rounds}); got != c.want {
			t.Errorf("rounds %v: %q, want %q", c.rounds, got, c.want)
		}
	}
}

func TestFlagsRefuseNoRounds(t *testing.T) {
	for _, args := range [][]string{{"bench", "-rounds", "0"}, {"bench", "-d", "0s"}} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	o, err := parseFlags([]string{"bench", "-rounds", "3"}, io.Discard)
	if err != nil || o.rounds != 3 || o.split != nil {
		t.Fatalf("-rounds 3: %+v, %v", o, err)
	}
}
