package kernel

// DialWithTableFlags lets tests create tables with flags (owner, dormant)
// the way another program would.
var DialWithTableFlags = dialWithTableFlags
