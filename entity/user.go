package entity

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/orderprocessor/orderprocessor/apperr"
)

// Role is a user's role (the JWT "role" claim).
type Role string

// Roles.
const (
	RoleCustomer Role = "customer"
	RoleAdmin    Role = "admin"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleCustomer || r == RoleAdmin }

// AdminUsername is the reserved account the platform provisions with the
// admin role (ORDERPROCESSOR_ADMIN_PASSWORD). It is shorter than registration
// allows, so no one can register it; login accepts it.
const AdminUsername = "admin"

// Field limits of users (docs/api.md, field rules).
const (
	UsernameMinLen = 6
	UsernameMaxLen = 30
	PasswordMinLen = 12
	PasswordMaxLen = 20
	NameMaxLen     = 50
	EmailMaxLen    = 255
	PhoneMinDigits = 10
	PhoneMaxDigits = 15
	MinAge         = 13
	MaxAge         = 120
	// PasswordSpecials are the special characters of which a password needs one.
	PasswordSpecials = "!@#$%^&*()-_=+"
)

// User is a stored user. Username and Email are lower-case. Phone holds digits
// only ("" = none); DateOfBirth is YYYY-MM-DD ("" = none). PasswordHash is
// never serialised.
type User struct {
	Username               string `json:"username"`
	Email                  string `json:"email"`
	PasswordHash           string `json:"-"`
	FirstName              string `json:"first_name"`
	LastName               string `json:"last_name"`
	Phone                  string `json:"phone"`
	DateOfBirth            string `json:"date_of_birth"`
	MarketingEmailsConsent bool   `json:"marketing_emails_consent"`
	Role                   Role   `json:"role"`
	IsActive               bool   `json:"is_active"`
	CreatedAt              Time   `json:"created_at"`
	UpdatedAt              Time   `json:"updated_at"`
	Version                int64  `json:"version"`
	// TokensValidAfter is when the user's access tokens start to count: a
	// token issued before it is refused. Deactivation sets it; zero: every
	// token counts. Stored beside the document, not in it.
	TokensValidAfter time.Time `json:"-"`
}

// UserProfile is the response of GET /auth/profile and the "user" of the login
// and profile-update responses. Phone and DateOfBirth are null when unset.
type UserProfile struct {
	Username               string  `json:"username"`
	Email                  string  `json:"email"`
	FirstName              string  `json:"first_name"`
	LastName               string  `json:"last_name"`
	Phone                  *string `json:"phone"`
	DateOfBirth            *string `json:"date_of_birth"`
	MarketingEmailsConsent bool    `json:"marketing_emails_consent"`
	Role                   Role    `json:"role"`
	CreatedAt              Time    `json:"created_at"`
	UpdatedAt              Time    `json:"updated_at"`
}

// Profile returns u's public profile.
func (u *User) Profile() UserProfile {
	return UserProfile{
		Username: u.Username, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
		Phone: nonEmpty(u.Phone), DateOfBirth: nonEmpty(u.DateOfBirth),
		MarketingEmailsConsent: u.MarketingEmailsConsent, Role: u.Role,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// UserCreate is the body of POST /auth/register.
type UserCreate struct {
	Username               string  `json:"username"`
	Email                  string  `json:"email"`
	Password               string  `json:"password"`
	FirstName              string  `json:"first_name"`
	LastName               string  `json:"last_name"`
	Phone                  *string `json:"phone,omitempty"`
	DateOfBirth            *string `json:"date_of_birth,omitempty"`
	MarketingEmailsConsent bool    `json:"marketing_emails_consent,omitempty"`
}

// Validate checks every field rule and normalises r in place: username and
// email lower-cased, names trimmed, phone reduced to its digits (an empty
// phone or date of birth becomes nil). now is the date for the age rule.
func (r *UserCreate) Validate(now time.Time) error {
	var v Violations
	r.Username = checkUsername(&v, "username", r.Username)
	r.Email = checkEmail(&v, "email", r.Email)
	checkPassword(&v, "password", r.Password)
	r.FirstName = checkName(&v, "first_name", r.FirstName)
	r.LastName = checkName(&v, "last_name", r.LastName)
	if r.Phone != nil && *r.Phone == "" {
		r.Phone = nil
	}
	if r.Phone != nil {
		p := checkPhone(&v, "phone", *r.Phone)
		r.Phone = &p
	}
	if r.DateOfBirth != nil && *r.DateOfBirth == "" {
		r.DateOfBirth = nil
	}
	if r.DateOfBirth != nil {
		checkDateOfBirth(&v, "date_of_birth", *r.DateOfBirth, now)
	}
	return v.Err()
}

// User returns the new user r describes (call Validate first), with role
// customer, active, version 1, created and updated at now.
func (r *UserCreate) User(passwordHash string, now time.Time) *User {
	u := &User{
		Username: r.Username, Email: r.Email, PasswordHash: passwordHash,
		FirstName: r.FirstName, LastName: r.LastName,
		MarketingEmailsConsent: r.MarketingEmailsConsent,
		Role:                   RoleCustomer, IsActive: true,
		CreatedAt: At(now), UpdatedAt: At(now), Version: 1,
	}
	if r.Phone != nil {
		u.Phone = *r.Phone
	}
	if r.DateOfBirth != nil {
		u.DateOfBirth = *r.DateOfBirth
	}
	return u
}

// UserLogin is the body of POST /auth/login.
type UserLogin struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Validate rejects a username or password that no registration could have
// produced by length (6-30 and 12-20 characters), and lower-cases the
// username. It does not reveal anything about existing users.
func (r *UserLogin) Validate() error {
	var v Violations
	r.Username = strings.ToLower(r.Username)
	if r.Username == "" {
		v.Body("username", "field required", TypeMissing)
	} else if n := utf8.RuneCountInString(r.Username); r.Username != AdminUsername && (n < UsernameMinLen || n > UsernameMaxLen) {
		v.Body("username", sprintf("must be %d-%d characters", UsernameMinLen, UsernameMaxLen), TypeValue)
	}
	if r.Password == "" {
		v.Body("password", "field required", TypeMissing)
	} else if n := utf8.RuneCountInString(r.Password); n < PasswordMinLen || n > PasswordMaxLen {
		v.Body("password", sprintf("must be %d-%d characters", PasswordMinLen, PasswordMaxLen), TypeValue)
	}
	return v.Err()
}

// UserProfileUpdate is the body of PUT /auth/profile: only the fields present
// change; phone "" clears the phone.
type UserProfileUpdate struct {
	FirstName              *string `json:"first_name,omitempty"`
	LastName               *string `json:"last_name,omitempty"`
	Email                  *string `json:"email,omitempty"`
	Phone                  *string `json:"phone,omitempty"`
	DateOfBirth            *string `json:"date_of_birth,omitempty"`
	MarketingEmailsConsent *bool   `json:"marketing_emails_consent,omitempty"`
}

// Validate checks the present fields with the registration rules and
// normalises them in place (email lower-cased, names trimmed, phone digits).
func (r *UserProfileUpdate) Validate(now time.Time) error {
	var v Violations
	if r.FirstName != nil {
		s := checkName(&v, "first_name", *r.FirstName)
		r.FirstName = &s
	}
	if r.LastName != nil {
		s := checkName(&v, "last_name", *r.LastName)
		r.LastName = &s
	}
	if r.Email != nil {
		s := checkEmail(&v, "email", *r.Email)
		r.Email = &s
	}
	if r.Phone != nil && *r.Phone != "" {
		s := checkPhone(&v, "phone", *r.Phone)
		r.Phone = &s
	}
	if r.DateOfBirth != nil {
		checkDateOfBirth(&v, "date_of_birth", *r.DateOfBirth, now)
	}
	return v.Err()
}

// IsEmpty reports whether the update changes nothing.
func (r *UserProfileUpdate) IsEmpty() bool {
	return r.FirstName == nil && r.LastName == nil && r.Email == nil && r.Phone == nil &&
		r.DateOfBirth == nil && r.MarketingEmailsConsent == nil
}

// Apply copies the present fields to u (call Validate first) and reports
// whether the email changed (the caller must then move the email guard).
// It does not touch UpdatedAt or Version.
func (r *UserProfileUpdate) Apply(u *User) (emailChanged bool) {
	if r.FirstName != nil {
		u.FirstName = *r.FirstName
	}
	if r.LastName != nil {
		u.LastName = *r.LastName
	}
	if r.Email != nil && *r.Email != u.Email {
		u.Email = *r.Email
		emailChanged = true
	}
	if r.Phone != nil {
		u.Phone = *r.Phone
	}
	if r.DateOfBirth != nil {
		u.DateOfBirth = *r.DateOfBirth
	}
	if r.MarketingEmailsConsent != nil {
		u.MarketingEmailsConsent = *r.MarketingEmailsConsent
	}
	return emailChanged
}

// NormalizeUsername returns the stored form of a username (lower-case).
func NormalizeUsername(s string) string { return strings.ToLower(s) }

// ValidUsername reports whether s (any case) satisfies the username rule.
func ValidUsername(s string) bool {
	if len(s) < UsernameMinLen || len(s) > UsernameMaxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && s[i] != '_' {
			return false
		}
	}
	return true
}

func checkUsername(v *Violations, field, s string) string {
	switch {
	case s == "":
		v.Body(field, "field required", TypeMissing)
	case !ValidUsername(s):
		v.Body(field, sprintf("must be %d-%d characters of letters, digits and _", UsernameMinLen, UsernameMaxLen), TypeValue)
	}
	return strings.ToLower(s)
}

// ValidEmail reports whether s is an acceptable email address: at most 255
// characters, local@domain, the local part of letters, digits and
// !#$%&'*+/=?^_`{|}~.- (no leading, trailing or double dot), the domain of at
// least two dot-separated labels of letters, digits and inner hyphens, with an
// alphabetic top-level label of at least two letters.
func ValidEmail(s string) bool {
	if len(s) > EmailMaxLen {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at > 64 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return false
	}
	for i := 0; i < len(local); i++ {
		if c := local[i]; !isAlnum(c) && !strings.ContainsRune("!#$%&'*+/=?^_`{|}~.-", rune(c)) {
			return false
		}
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if !isAlnum(l[i]) && l[i] != '-' {
				return false
			}
		}
	}
	tld := labels[len(labels)-1]
	if len(tld) < 2 {
		return false
	}
	for i := 0; i < len(tld); i++ {
		if c := tld[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

func checkEmail(v *Violations, field, s string) string {
	switch {
	case s == "":
		v.Body(field, "field required", TypeMissing)
	case len(s) > EmailMaxLen:
		v.Body(field, sprintf("must be at most %d characters", EmailMaxLen), TypeValue)
	case ContainsMarkup(s) || !ValidEmail(s):
		v.Body(field, "must be a valid email address", TypeValue)
	}
	return strings.ToLower(s)
}

// ValidPassword reports whether s satisfies the password rule: 12-20
// characters with an upper-case letter, a lower-case letter, a digit and one
// of PasswordSpecials, and no control characters or markup.
func ValidPassword(s string) bool { return passwordProblem(s) == "" }

func passwordProblem(s string) string {
	if n := utf8.RuneCountInString(s); n < PasswordMinLen || n > PasswordMaxLen {
		return sprintf("must be %d-%d characters", PasswordMinLen, PasswordMaxLen)
	}
	if hasControl(s) || ContainsMarkup(s) {
		return "must not contain control characters or markup"
	}
	var upper, lower, digit, special bool
	for _, c := range s {
		switch {
		case unicode.IsUpper(c):
			upper = true
		case unicode.IsLower(c):
			lower = true
		case c >= '0' && c <= '9':
			digit = true
		case strings.ContainsRune(PasswordSpecials, c):
			special = true
		}
	}
	if !upper || !lower || !digit || !special {
		return "must contain an upper-case letter, a lower-case letter, a digit and one of " + PasswordSpecials
	}
	return ""
}

func checkPassword(v *Violations, field, s string) {
	if s == "" {
		v.Body(field, "field required", TypeMissing)
		return
	}
	if p := passwordProblem(s); p != "" {
		v.Body(field, p, TypeValue)
	}
}

// ValidName reports whether s (already trimmed) is an acceptable first or last
// name: 1-50 characters of letters (any script), spaces, ' and -, with at
// least one letter.
func ValidName(s string) bool {
	n, letters := 0, 0
	for _, c := range s {
		n++
		switch {
		case unicode.IsLetter(c) || unicode.Is(unicode.Mn, c):
			letters++
		case c == ' ' || c == '\'' || c == '-':
		default:
			return false
		}
	}
	return n >= 1 && n <= NameMaxLen && letters > 0
}

func checkName(v *Violations, field, s string) string {
	t := strings.TrimSpace(s)
	switch {
	case s == "":
		v.Body(field, "field required", TypeMissing)
	case t == "":
		v.Body(field, "must not be blank", TypeValue)
	case ContainsMarkup(t) || !ValidName(t):
		v.Body(field, sprintf("must be 1-%d letters, spaces, ' or -", NameMaxLen), TypeValue)
	}
	return t
}

// NormalizePhone strips spaces, '-', '(', ')', '.' and a leading '+' from s and
// returns its digits, and false unless the result is 10-15 digits.
func NormalizePhone(s string) (string, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "+")
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == ' ' || c == '-' || c == '(' || c == ')' || c == '.':
		default:
			return "", false
		}
	}
	d := b.String()
	return d, len(d) >= PhoneMinDigits && len(d) <= PhoneMaxDigits
}

func checkPhone(v *Violations, field, s string) string {
	d, ok := NormalizePhone(s)
	if !ok {
		v.Body(field, sprintf("must be %d-%d digits", PhoneMinDigits, PhoneMaxDigits), TypeValue)
		return s
	}
	return d
}

// CheckDateOfBirth returns a message ("" when valid) for a date of birth: it
// must be YYYY-MM-DD and the age on now's date (UTC) must be 13-120 years.
func CheckDateOfBirth(s string, now time.Time) string {
	dob, err := time.Parse(DateLayout, s)
	if err != nil {
		return "must be a date YYYY-MM-DD"
	}
	if age := ageOn(dob, now.UTC()); age < MinAge || age > MaxAge {
		return sprintf("age must be between %d and %d years", MinAge, MaxAge)
	}
	return ""
}

func checkDateOfBirth(v *Violations, field, s string, now time.Time) {
	if msg := CheckDateOfBirth(s, now); msg != "" {
		v.Body(field, msg, TypeValue)
	}
}

// ErrInvalidCredentials is the one error of a failed login (unknown user or
// wrong password alike: no user enumeration).
var ErrInvalidCredentials = apperr.New(apperr.Unauthorized, "Invalid username or password")
