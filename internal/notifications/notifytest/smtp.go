// Package notifytest runs, inside a test, the outside world the
// notifications service talks to: a real SMTP server (emersion/go-smtp) and
// an HTTP server speaking Twilio's Messages API, both able to refuse; and
// reads received mail as a mail client would.
package notifytest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTPServer is a real SMTP server (emersion/go-smtp) started inside a test.
// It keeps what it receives, and can be told to refuse.
type SMTPServer struct {
	addr           string
	user, password string

	mu         sync.Mutex
	received   []Mail
	data       int // DATA commands answered, accepted or refused
	refuse     func(n int) *smtp.SMTPError
	rejectRcpt map[string]bool
	tls        bool // whether a session ran over TLS
}

// Refuse makes the server answer the nth DATA command (from 1) with the
// error f returns for it; nil accepts.
func (s *SMTPServer) Refuse(f func(n int) *smtp.SMTPError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = f
}

// RejectRcpt makes the server answer RCPT TO:<addr> with 550 5.1.1.
func (s *SMTPServer) RejectRcpt(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejectRcpt[addr] = true
}

// UsedTLS reports whether a mail transaction ran over TLS.
func (s *SMTPServer) UsedTLS() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tls
}

// Mail is a message the server accepted: its envelope and its data.
type Mail struct {
	From string
	To   []string
	Data []byte
}

// SMTPOptions configure NewSMTPServer.
type SMTPOptions struct {
	// User and Password, when set, are required (AUTH PLAIN) before MAIL.
	User, Password string
	// TLS, when set, is offered with STARTTLS.
	TLS *tls.Config
}

// NewSMTPServer starts a server on a loopback port, closed at cleanup.
func NewSMTPServer(t testing.TB, opts SMTPOptions) *SMTPServer {
	t.Helper()
	s := &SMTPServer{user: opts.User, password: opts.Password, rejectRcpt: map[string]bool{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{srv: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = opts.TLS == nil
	srv.TLSConfig = opts.TLS
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

// URL is the server's SMTP_URL, with query (without "?") when not empty.
func (s *SMTPServer) URL(query string) string {
	u := "smtp://"
	if s.user != "" {
		u += s.user + ":" + s.password + "@"
	}
	u += s.addr
	if query != "" {
		u += "?" + query
	}
	return u
}

// Mails are the messages accepted so far.
func (s *SMTPServer) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.received...)
}

// DataCommands counts the DATA commands answered, accepted or refused.
func (s *SMTPServer) DataCommands() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data
}

type smtpSession struct {
	srv    *SMTPServer
	conn   *smtp.Conn
	authed bool
	from   string
	to     []string
}

func (ss *smtpSession) AuthMechanisms() []string {
	if ss.srv.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *smtpSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, password string) error {
		if user != ss.srv.user || password != ss.srv.password {
			return smtp.ErrAuthFailed
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if ss.srv.user != "" && !ss.authed {
		return smtp.ErrAuthRequired
	}
	if _, isTLS := ss.conn.TLSConnectionState(); isTLS {
		ss.srv.mu.Lock()
		ss.srv.tls = true
		ss.srv.mu.Unlock()
	}
	ss.from = from
	return nil
}

func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.srv.mu.Lock()
	reject := ss.srv.rejectRcpt[to]
	ss.srv.mu.Unlock()
	if reject {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
			Message: "no such user here"}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.srv.mu.Lock()
	defer ss.srv.mu.Unlock()
	ss.srv.data++
	if ss.srv.refuse != nil {
		if serr := ss.srv.refuse(ss.srv.data); serr != nil {
			return serr
		}
	}
	ss.srv.received = append(ss.srv.received, Mail{From: ss.from,
		To: append([]string(nil), ss.to...), Data: b})
	return nil
}

func (ss *smtpSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *smtpSession) Logout() error { return nil }

// ParsedMail is a received message taken apart as a mail client would.
type ParsedMail struct {
	Subject, To, From, MessageID string
	Text, HTML                   string
}

// ParseMail parses a MIME message: headers (RFC 2047 words decoded), and the
// text/plain and text/html parts of its multipart/alternative body, each
// decoded from its transfer encoding.
func ParseMail(t testing.TB, raw []byte) ParsedMail {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse mail: %v\n%s", err, raw)
	}
	dec := new(mime.WordDecoder)
	header := func(name string) string {
		v, err := dec.DecodeHeader(m.Header.Get(name))
		if err != nil {
			t.Fatalf("header %s: %v", name, err)
		}
		return v
	}
	p := ParsedMail{Subject: header("Subject"), To: header("To"), From: header("From"),
		MessageID: m.Header.Get("Message-ID")}
	mediaType, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("content type %q (%v), want multipart/alternative", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var body io.Reader = part
		switch strings.ToLower(part.Header.Get("Content-Transfer-Encoding")) {
		case "quoted-printable":
			body = quotedprintable.NewReader(part)
		case "", "7bit", "8bit":
		default:
			t.Fatalf("unexpected transfer encoding %q", part.Header.Get("Content-Transfer-Encoding"))
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		switch ct {
		case "text/plain":
			p.Text = string(b)
		case "text/html":
			p.HTML = string(b)
		default:
			t.Fatalf("unexpected part %s", ct)
		}
	}
	return p
}

// SelfSigned returns a server certificate for 127.0.0.1 and a client
// configuration that trusts it.
func SelfSigned(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtp test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der},
		PrivateKey: key}}}
	return server, &tls.Config{RootCAs: pool}
}
