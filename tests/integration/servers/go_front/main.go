// A Go front (tests/integration/test_context.py, scripts/links.py): a
// net/http server whose handler calls NEXT (http.Get, the default client
// and its pool) and answers after it; with FIXED set it calls
// NEXT/leaf<path> instead of NEXT<path>; with FANOUT set it makes the
// call from a goroutine it starts and waits for (as errgroup fan-outs do).
// usage: go_front PORT NEXT
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
)

func main() {
	next := os.Args[2]
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		target := next + r.URL.Path
		if os.Getenv("FIXED") != "" {
			target = next + "/leaf" + r.URL.Path
		}
		var resp *http.Response
		var err error
		if os.Getenv("FANOUT") != "" {
			done := make(chan struct{})
			go func() {
				resp, err = http.Get(target)
				close(done)
			}()
			<-done
		} else {
			resp, err = http.Get(target)
		}
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		fmt.Fprintf(w, "front %s\n", r.URL.Path)
	})
	if err := http.ListenAndServe("127.0.0.1:"+os.Args[1], nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
