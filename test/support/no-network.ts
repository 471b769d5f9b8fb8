/**
 * Setup file of the unit tier: that tier promises no I/O (no DynamoDB Local, no simulator, no
 * HTTP), so a test there that opens a socket, even to 127.0.0.1, fails at once and belongs in the
 * integration tier instead (any other folder of test/).
 */
import net from "node:net";

const refuse = () => {
  throw new Error("The unit tier opens no sockets: move this test out of test/unit (and drop .unit from its name).");
};
net.Socket.prototype.connect = refuse as never;
net.Server.prototype.listen = refuse as never;
