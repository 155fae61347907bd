// Encodes the stories.json that generate.py wrote with Go's golang.org/x/net/http2/hpack into
// go-hpack.json: a second HPACK encoder no one in this project wrote (Go's strategy differs from
// Python's: it indexes more names, Huffman-codes whenever shorter). Run by generate.sh.
package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"strconv"

	"golang.org/x/net/http2/hpack"
)

type story struct {
	Description string            `json:"description"`
	Sensitive   []string          `json:"sensitive"`
	Sizes       map[string]uint32 `json:"sizes"`
	Cases       []struct {
		Seqno   int                 `json:"seqno"`
		Headers []map[string]string `json:"headers"`
	} `json:"cases"`
}

type outCase struct {
	Seqno   int                 `json:"seqno"`
	Wire    string              `json:"wire"`
	Headers []map[string]string `json:"headers"`
}

func latin1(s string) string {
	// JSON strings hold code points; HPACK carries bytes: one byte per code point below 256.
	b := make([]byte, 0, len(s))
	for _, r := range s {
		b = append(b, byte(r))
	}
	return string(b)
}

func main() {
	dir, tmp := os.Args[1], os.Args[2]
	raw, err := os.ReadFile(tmp + "/stories.json")
	if err != nil {
		panic(err)
	}
	var in struct{ Stories []story }
	if err := json.Unmarshal(raw, &in); err != nil {
		panic(err)
	}
	var stories []map[string]any
	for _, s := range in.Stories {
		var buf bytes.Buffer
		enc := hpack.NewEncoder(&buf)
		enc.SetMaxDynamicTableSizeLimit(65536)
		sensitive := map[string]bool{}
		for _, n := range s.Sensitive {
			sensitive[n] = true
		}
		var cases []outCase
		for _, c := range s.Cases {
			if size, ok := s.Sizes[strconv.Itoa(c.Seqno)]; ok {
				enc.SetMaxDynamicTableSize(size)
			}
			buf.Reset()
			for _, h := range c.Headers {
				for n, v := range h {
					enc.WriteField(hpack.HeaderField{Name: latin1(n), Value: latin1(v), Sensitive: sensitive[n]})
				}
			}
			cases = append(cases, outCase{Seqno: c.Seqno, Wire: hex.EncodeToString(buf.Bytes()), Headers: c.Headers})
		}
		stories = append(stories, map[string]any{"description": s.Description, "cases": cases})
	}
	out, _ := json.Marshal(map[string]any{
		"generator": "golang.org/x/net/http2/hpack v0.33.0 (scripts/hpack-vectors/main.go)",
		"stories":   stories,
	})
	if err := os.WriteFile(dir+"/go-hpack.json", out, 0o644); err != nil {
		panic(err)
	}
}
