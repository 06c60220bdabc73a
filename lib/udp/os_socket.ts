/**
 * What the operating system knows about one of our UDP sockets, and the two things the tunnel asks
 * of it: buffer sizes (`SO_RCVBUF`, `SO_SNDBUF`) and how many datagrams it dropped because the
 * receive buffer was full (`SO_MEMINFO`, the figure `/proc/net/udp` shows as `drops`).
 *
 * Deno offers neither: `Deno.listenDatagram` takes no buffer sizes, `node:dgram`'s
 * `recvBufferSize` is kept in JavaScript and never reaches the kernel, and reading `/proc/net/udp`
 * needs `--allow-all`. So this calls libc's `getsockopt` / `setsockopt` through Deno's FFI, which
 * needs `--allow-ffi` and is done on Linux only. Deno does not expose a socket's file descriptor
 * either, so it is found by asking `getsockname` of each descriptor for the datagram socket bound
 * to our address and port (one is: we bound it exclusively).
 *
 * Without `--allow-ffi`, or on another OS, {@link OsSockets.open} says why, and the tools run on
 * the kernel's default sizes and print that the OS's drops cannot be counted.
 *
 * @module
 */

const SOL_SOCKET = 1;
const SO_TYPE = 3;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const SO_MEMINFO = 55;
const SOCK_DGRAM = 2;
const AF_INET = 2;
const AF_INET6 = 10;
/** Index of the drop counter in SO_MEMINFO's array of u32 (SK_MEMINFO_DROPS). */
const MEMINFO_DROPS = 8;
const MEMINFO_WORDS = 9;
/** Descriptors searched for the socket; far above what the tools open. */
const MAX_FD = 65_536;
/** Descriptors above the last one found that are tried first. */
const NEAR_FDS = 8;

const SYMBOLS = {
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>;

/** libc opened for socket options: one per tool, closed when the tool stops. */
export class OsSockets {
  private constructor(readonly libc: Libc) {}

  /** Opens libc, or says why the OS's view of sockets is out of reach. */
  static open(): OsSockets | string {
    if (Deno.build.os !== "linux") {
      return `socket buffers and the OS's drops are reached on Linux only (this is ${Deno.build.os})`;
    }
    try {
      return new OsSockets(Deno.dlopen("libc.so.6", SYMBOLS));
    } catch (err) {
      return err instanceof Deno.errors.NotCapable
        ? "run with --allow-ffi to set socket buffers and count the OS's drops"
        : `cannot open libc: ${(err as Error).message}`;
    }
  }

  /** The descriptor found last: a new socket usually gets the next one. */
  #lastFd = -1;
  readonly #name = new Uint8Array(128);
  readonly #nameLength = new Uint32Array(1);
  readonly #nameLengthBytes = new Uint8Array(this.#nameLength.buffer);

  /**
   * The socket bound to `address` (as Deno reports it), or why it cannot be found. The search
   * starts just above the descriptor found last (Linux gives a new socket the lowest free
   * descriptor, which after a run of opens is the next one up), then covers the rest from 0: a
   * tool with a hundred sockets open pays a few system calls per new socket instead of one per
   * open descriptor (0.25–0.6 ms per socket, measured, on the path of every player's first
   * datagram on the exposer).
   */
  find(address: Deno.NetAddr): OsSocket | string {
    const family = address.hostname.includes(":") ? AF_INET6 : AF_INET;
    // IPv4: the address too (sockets on 127.0.0.1 and 127.0.0.2 may share a port number).
    const ipv4 = family === AF_INET ? address.hostname.split(".").map(Number) : [];
    const near = this.#lastFd + 1;
    for (let fd = near; fd < near + NEAR_FDS; fd++) {
      if (this.#isOurs(fd, family, address.port, ipv4)) return this.#found(fd);
    }
    for (let fd = 0; fd < MAX_FD; fd++) {
      if (fd >= near && fd < near + NEAR_FDS) continue;
      if (this.#isOurs(fd, family, address.port, ipv4)) return this.#found(fd);
    }
    return `no datagram socket bound to port ${address.port} among this process's descriptors`;
  }

  #found(fd: number): OsSocket {
    this.#lastFd = fd;
    return new OsSocket(this.libc.symbols, fd);
  }

  /** Whether descriptor `fd` is a datagram socket bound to this family, port and IPv4 address. */
  #isOurs(fd: number, family: number, port: number, ipv4: number[]): boolean {
    const name = this.#name;
    this.#nameLength[0] = name.length;
    if (this.libc.symbols.getsockname(fd, name, this.#nameLengthBytes) !== 0) return false;
    if ((name[0] | (name[1] << 8)) !== family || ((name[2] << 8) | name[3]) !== port) return false;
    if (ipv4.some((byte, i) => name[4 + i] !== byte)) return false;
    return new OsSocket(this.libc.symbols, fd).type() === SOCK_DGRAM;
  }

  close(): void {
    this.libc.close();
  }
}

/** Buffer sizes as the kernel reports them (Linux doubles what is asked, for its bookkeeping). */
export interface SocketBuffers {
  receive: number;
  send: number;
}

/**
 * One UDP socket seen through libc, by descriptor: use it only while the socket is open (a closed
 * socket's descriptor may be reused by the next one).
 */
export class OsSocket {
  readonly #int = new Int32Array(MEMINFO_WORDS);
  readonly #length = new Uint32Array(1);

  constructor(readonly libc: Libc["symbols"], readonly fd: number) {}

  /** SO_TYPE: SOCK_DGRAM (2) for a UDP socket. */
  type(): number {
    return this.#get(SO_TYPE);
  }

  /**
   * Asks for buffer sizes in bytes (0: leave the kernel's default) and returns what the kernel
   * granted: Linux caps a request at `net.core.rmem_max` / `wmem_max`.
   */
  setBuffers(wanted: SocketBuffers): SocketBuffers {
    if (wanted.receive > 0) this.#set(SO_RCVBUF, wanted.receive);
    if (wanted.send > 0) this.#set(SO_SNDBUF, wanted.send);
    return this.buffers();
  }

  buffers(): SocketBuffers {
    return { receive: this.#get(SO_RCVBUF), send: this.#get(SO_SNDBUF) };
  }

  /** Datagrams the kernel dropped on this socket since it was opened (receive buffer full). */
  drops(): number {
    this.#length[0] = MEMINFO_WORDS * 4;
    const failed = this.libc.getsockopt(
      this.fd,
      SOL_SOCKET,
      SO_MEMINFO,
      new Uint8Array(this.#int.buffer),
      new Uint8Array(this.#length.buffer),
    );
    return failed ? 0 : this.#int[MEMINFO_DROPS] >>> 0;
  }

  #get(option: number): number {
    this.#length[0] = 4;
    const failed = this.libc.getsockopt(
      this.fd,
      SOL_SOCKET,
      option,
      new Uint8Array(this.#int.buffer, 0, 4),
      new Uint8Array(this.#length.buffer),
    );
    return failed ? 0 : this.#int[0];
  }

  #set(option: number, value: number): void {
    const bytes = new Int32Array([Math.min(value, 0x3fff_ffff)]);
    this.libc.setsockopt(this.fd, SOL_SOCKET, option, new Uint8Array(bytes.buffer), 4);
  }
}
