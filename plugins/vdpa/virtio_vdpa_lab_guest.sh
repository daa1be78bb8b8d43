# In-guest (after tests/lab/guest-prelude.sh): loads virtio_vdpa next to vhost_vdpa
# (the prelude loads vhost_vdpa first, so new vdpa devices still bind to it) and runs
# plugins/vdpa/virtio_vdpa_test.py for real (lab_python_test: its skip is a failure
# here).

lab_check virtio_vdpa_module labmod virtio_vdpa
lab_python_test virtio_vdpa_test plugins/vdpa/virtio_vdpa_test.py
