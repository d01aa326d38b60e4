module github.com/heraproject/hera

go 1.26
