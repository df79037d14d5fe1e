package ir

// Services are port names, as Debian's /etc/services (netbase) gives them
// with their aliases: ksc ships them, so that "tcp dport ssh" means port 22
// on every machine, whatever its own /etc/services says. Ports print as
// numbers, as nft lists them.
var Services = []Named{
	{"ssh", 22}, {"ftp-data", 20}, {"ftp", 21}, {"telnet", 23}, {"smtp", 25}, {"mail", 25},
	{"domain", 53}, {"bootps", 67}, {"bootpc", 68}, {"tftp", 69}, {"http", 80}, {"www", 80},
	{"kerberos", 88}, {"kerberos5", 88}, {"krb5", 88}, {"kerberos-sec", 88},
	{"pop3", 110}, {"pop-3", 110}, {"sunrpc", 111}, {"portmapper", 111}, {"ntp", 123},
	{"netbios-ns", 137}, {"netbios-dgm", 138}, {"netbios-ssn", 139}, {"imap2", 143}, {"imap", 143},
	{"snmp", 161}, {"snmp-trap", 162}, {"snmptrap", 162}, {"bgp", 179}, {"ldap", 389}, {"https", 443},
	{"microsoft-ds", 445}, {"submissions", 465}, {"ssmtp", 465}, {"smtps", 465}, {"isakmp", 500},
	{"syslog", 514}, {"dhcpv6-client", 546}, {"dhcpv6-server", 547}, {"submission", 587}, {"ipp", 631},
	{"ldaps", 636}, {"domain-s", 853}, {"rsync", 873}, {"ftps-data", 989}, {"ftps", 990},
	{"imaps", 993}, {"pop3s", 995}, {"openvpn", 1194}, {"radius", 1812}, {"radius-acct", 1813},
	{"radacct", 1813}, {"nfs", 2049}, {"mysql", 3306}, {"ms-wbt-server", 3389}, {"ipsec-nat-t", 4500},
	{"sip", 5060}, {"sip-tls", 5061}, {"xmpp-client", 5222}, {"jabber-client", 5222},
	{"xmpp-server", 5269}, {"jabber-server", 5269}, {"mdns", 5353}, {"postgresql", 5432},
	{"postgres", 5432}, {"syslog-tls", 6514}, {"http-alt", 8080}, {"webcache", 8080}, {"git", 9418},
}
