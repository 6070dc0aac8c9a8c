// Preloaded into the conformance CLI (NODE_OPTIONS=--require): its client scenarios start
// their test servers with listen(0), which binds every interface. This makes a TCP listen
// without a host bind 127.0.0.1 only (the URLs the suite hands out say localhost anyway).
// It hooks _listen2, where Node binds, rather than listen(): a host given to listen() is
// looked up asynchronously, and the scenarios read server.address() right after listen(0).
'use strict';
const net = require('node:net');
const bind = net.Server.prototype._listen2;
net.Server.prototype._listen2 = function (address, port, addressType, ...rest) {
  if (address == null && typeof port === 'number' && port >= 0) {
    return bind.call(this, '127.0.0.1', port, 4, ...rest);
  }
  return bind.call(this, address, port, addressType, ...rest);
};
