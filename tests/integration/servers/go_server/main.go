// A Go HTTPS server (crypto/tls, no OpenSSL): zerospan cannot see its
// plaintext and must say so instead of making spans of ciphertext.
// HTTP/1.1 only (an empty TLSNextProto turns HTTP/2 off).
// usage: go_server PORT CERT KEY
package main

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
)

func main() {
	srv := &http.Server{
		Addr: "127.0.0.1:" + os.Args[1],
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "go says hi %s\n", r.URL.Path)
		}),
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	if err := srv.ListenAndServeTLS(os.Args[2], os.Args[3]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
