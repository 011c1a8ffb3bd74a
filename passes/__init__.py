"""fuse.passes"""
