package main

import (
	"os"
	"testing"

	"github.com/heraproject/hera/internal/dbtest"
)

func dbtestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }
