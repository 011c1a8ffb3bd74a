"""fuse/runtime"""
