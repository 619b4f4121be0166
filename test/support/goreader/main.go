// goreader: an upstream that reads each request with the Go standard-library calls Gogs 0.14.3
// makes (internal/context/auth.go, internal/route/repo/http.go, internal/tool/tool.go), and
// answers with what it read as JSON. Keygate's tests put it where Gogs would be, so that what
// Keygate forwards is judged by Go's parsing, not by a JavaScript re-implementation of it.
//
// Each connection carries one request (the answer says Connection: close), so the raw bytes that
// arrived on it are exactly that request's; they are returned too, for Node to parse in turn.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
)

type recordingConn struct {
	net.Conn
	mu  sync.Mutex
	raw []byte
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	if len(c.raw) < 1<<20 {
		c.raw = append(c.raw, p[:n]...)
	}
	c.mu.Unlock()
	return n, err
}

type recordingListener struct{ net.Listener }

func (l recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &recordingConn{Conn: c}, nil
}

type connKey struct{}

// Basic is what Gogs' git and API code would take from Authorization.
type Basic struct {
	User string `json:"user"`
	Pass string `json:"pass"`
	// Panic: tool.BasicAuthDecode indexes auth[1] without checking for a colon.
	Panic bool `json:"panic,omitempty"`
}

type Reading struct {
	Method     string `json:"method"`
	Path       string `json:"path"`
	RequestURI string `json:"requestURI"`
	RemoteAddr string `json:"remoteAddr"`
	// Header.Get for each watched identity header name.
	Identity map[string]string `json:"identity"`
	// Header.Values for each watched name: every copy Go kept.
	IdentityValues map[string][]string `json:"identityValues"`
	Authorization  string              `json:"authorization"`
	Fields         []string            `json:"fields"`
	// Gogs' git smart HTTP and its API's Basic: len(fields) == 2 && fields[0] == "Basic".
	Basic *Basic `json:"basic"`
	// Gogs' API token (on /api/ paths): len(fields) == 2 && fields[0] == "token".
	Token string `json:"token"`
	// macaron's ctx.GetCookie: req.Cookie(name), then url.QueryUnescape.
	Cookies map[string]*string `json:"cookies"`
	// Every cookie Go parsed, in order.
	AllCookies [][2]string `json:"allCookies"`
	BodyBytes  int64       `json:"bodyBytes"`
	Raw        string      `json:"raw"`
}

func basicAuthDecode(encoded string) (b *Basic) {
	defer func() {
		if recover() != nil {
			b = &Basic{Panic: true}
		}
	}()
	s, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return nil
	}
	auth := strings.SplitN(string(s), ":", 2)
	return &Basic{User: auth[0], Pass: auth[1]}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address")
	headers := flag.String("identity-headers", "X-WEBAUTH-USER", "comma-separated header names to read with Header.Get")
	cookies := flag.String("cookies", "i_like_gogs,gogs_awesome,gogs_incredible,_csrf", "comma-separated cookie names to read with GetCookie")
	flag.Parse()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	names := strings.Split(*headers, ",")
	cookieNames := strings.Split(*cookies, ",")
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		rd := Reading{
			Method: r.Method, Path: r.URL.Path, RequestURI: r.RequestURI, RemoteAddr: r.RemoteAddr,
			Identity: map[string]string{}, IdentityValues: map[string][]string{}, Cookies: map[string]*string{},
			AllCookies: [][2]string{}, BodyBytes: n,
		}
		for _, name := range names {
			rd.Identity[name] = r.Header.Get(name)
			rd.IdentityValues[name] = r.Header.Values(name)
		}
		rd.Authorization = r.Header.Get("Authorization")
		rd.Fields = strings.Fields(rd.Authorization)
		if len(rd.Fields) == 2 && rd.Fields[0] == "Basic" {
			rd.Basic = basicAuthDecode(rd.Fields[1])
		}
		if strings.HasPrefix(r.URL.Path, "/api/") && len(rd.Fields) == 2 && rd.Fields[0] == "token" {
			rd.Token = rd.Fields[1]
		}
		for _, name := range cookieNames {
			if c, err := r.Cookie(name); err == nil {
				v, _ := url.QueryUnescape(c.Value)
				rd.Cookies[name] = &v
			}
		}
		for _, c := range r.Cookies() {
			rd.AllCookies = append(rd.AllCookies, [2]string{c.Name, c.Value})
		}
		if rc, ok := r.Context().Value(connKey{}).(*recordingConn); ok {
			rc.mu.Lock()
			rd.Raw = base64.StdEncoding.EncodeToString(rc.raw)
			rc.mu.Unlock()
		}
		body, _ := json.Marshal(rd)
		// As Gogs' session middleware does for a new session: Keygate must seal it for the browser.
		if v := r.URL.Query().Get("goreader_set_session"); v != "" {
			http.SetCookie(w, &http.Cookie{Name: "i_like_gogs", Value: v, Path: "/", HttpOnly: true})
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Goreader", "1")
		w.Header().Set("Connection", "close")
		w.Write(body)
	})
	srv := &http.Server{
		Handler: handler,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c)
		},
	}
	fmt.Printf("listening %s\n", ln.Addr().String())
	if err := srv.Serve(recordingListener{ln}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
