module meshpipe/scripts/hpack-vectors

go 1.22

require golang.org/x/net v0.33.0
