"""A pass-through FUSE filesystem that can be switched read-only while files are open.

Linux refuses `mount -o remount,ro` while a file on the mount is open for writing,
so a database kept open by a running daemon cannot be made read-only that way.
This filesystem mirrors SOURCE at MOUNTPOINT; while switched read-only, every call
that would change anything fails with EROFS, as on a read-only mount.

Control on stdin, one word a line: "ro" or "rw"; each is answered "ok <mode>" on
stdout once in force. The filesystem is mounted when "mounted" is printed, and
unmounted when stdin closes.
"""

import errno
import os
import sys
import threading

from fusepy import FUSE, FuseOSError, Operations


class Switchable(Operations):
    def __init__(self, root):
        self.root = root
        self.read_only = False

    def _path(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def _refuse_if_read_only(self):
        if self.read_only:
            raise FuseOSError(errno.EROFS)

    def access(self, path, mode):
        if mode & os.W_OK:
            self._refuse_if_read_only()
        if not os.access(self._path(path), mode):
            raise FuseOSError(errno.EACCES)

    def getattr(self, path, fh=None):
        st = os.lstat(self._path(path)) if fh is None else os.fstat(fh)
        return {
            key: getattr(st, key)
            for key in (
                "st_atime",
                "st_ctime",
                "st_gid",
                "st_mode",
                "st_mtime",
                "st_nlink",
                "st_size",
                "st_uid",
            )
        }

    def readdir(self, path, fh):
        return [".", ".."] + os.listdir(self._path(path))

    def statfs(self, path):
        st = os.statvfs(self._path(path))
        return {
            key: getattr(st, key)
            for key in (
                "f_bavail",
                "f_bfree",
                "f_blocks",
                "f_bsize",
                "f_favail",
                "f_ffree",
                "f_files",
                "f_flag",
                "f_frsize",
                "f_namemax",
            )
        }

    def chmod(self, path, mode):
        self._refuse_if_read_only()
        os.chmod(self._path(path), mode)

    def chown(self, path, uid, gid):
        self._refuse_if_read_only()
        os.chown(self._path(path), uid, gid)

    def mkdir(self, path, mode):
        self._refuse_if_read_only()
        os.mkdir(self._path(path), mode)

    def rmdir(self, path):
        self._refuse_if_read_only()
        os.rmdir(self._path(path))

    def unlink(self, path):
        self._refuse_if_read_only()
        os.unlink(self._path(path))

    def rename(self, old, new):
        self._refuse_if_read_only()
        os.rename(self._path(old), self._path(new))

    def utimens(self, path, times=None):
        self._refuse_if_read_only()
        os.utime(self._path(path), times)

    def open(self, path, flags):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_TRUNC):
            self._refuse_if_read_only()
        return os.open(self._path(path), flags)

    def create(self, path, mode, fi=None):
        self._refuse_if_read_only()
        # Read-write whatever was asked: the kernel reads through this handle for mmap.
        return os.open(self._path(path), os.O_RDWR | os.O_CREAT, mode)

    def read(self, path, length, offset, fh):
        return os.pread(fh, length, offset)

    def write(self, path, data, offset, fh):
        self._refuse_if_read_only()
        return os.pwrite(fh, data, offset)

    def truncate(self, path, length, fh=None):
        self._refuse_if_read_only()
        if fh is None:
            os.truncate(self._path(path), length)
        else:
            os.ftruncate(fh, length)

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        os.close(fh)

    def fsync(self, path, datasync, fh):
        self._refuse_if_read_only()
        if datasync:
            os.fdatasync(fh)
        else:
            os.fsync(fh)


def control(fs, mountpoint):
    for line in sys.stdin:
        word = line.strip()
        if word in ("ro", "rw"):
            fs.read_only = word == "ro"
            print(f"ok {word}", flush=True)
        elif word:
            print(f"error unknown command {word!r} (expected ro or rw)", flush=True)
    os.system(f"umount -l {mountpoint}")


def announce_when_mounted(mountpoint):
    while not os.path.ismount(mountpoint):
        threading.Event().wait(0.02)
    print("mounted", flush=True)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: switchable-fs.py SOURCE MOUNTPOINT")
    source, mountpoint = sys.argv[1], sys.argv[2]
    fs = Switchable(os.path.realpath(source))
    threading.Thread(target=control, args=(fs, mountpoint), daemon=True).start()
    threading.Thread(target=announce_when_mounted, args=(mountpoint,), daemon=True).start()
    FUSE(fs, mountpoint, foreground=True, allow_other=True, attr_timeout=0, entry_timeout=0)


if __name__ == "__main__":
    main()
