// Command bare is the floor of treperf's HTTP figures: a Go server with
// nothing of the control plane, answering every request with the same
// bytes from memory (a health document, or a file given with -body). It
// imports only the standard library.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	bodyFile := flag.String("body", "", "file whose bytes every answer carries (default: a health document)")
	flag.Parse()
	body := []byte(`{"services":[{"service":"bare","status":"OK","message":""}]}`)
	if *bodyFile != "" {
		b, err := os.ReadFile(*bodyFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bare:", err)
			os.Exit(1)
		}
		body = b
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bare:", err)
		os.Exit(1)
	}
	fmt.Println("http://" + ln.Addr().String())
	size := strconv.Itoa(len(body))
	err = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", size)
		_, _ = w.Write(body)
	}))
	fmt.Fprintln(os.Stderr, "bare:", err)
	os.Exit(1)
}
