# task_worker.py: the worker from seed 001 ("分布式进程"), typos fixed, logic unchanged.
#
# Fixed: `import random,time,Queue` -> queue (Python 3), and
# `from multiprocessing.Manager import BaseManager` -> multiprocessing.managers.
# Added for the tests, through the environment only: MT_MANAGER_HOST,
# MT_MANAGER_PORT, MT_MANAGER_AUTHKEY, and MT_TASK_SLEEP (the seed's
# time.sleep(1) per task; tests set 0).
#
# Run it against the C++ master:
#   bazel run //lessons/manager -- --role=master --port=5000 --authkey=abc &
#   python3 task_worker.py
import os
import random, time, queue
from multiprocessing.managers import BaseManager

# 创建类似的QueueManager
class QueueManager(BaseManager):
    pass


# 由于这个QueueManager只从网络上获取Queue，所以注册时只提供名字
QueueManager.register('get_task_queue')
QueueManager.register('get_result_queue')


# 连接到服务器，即运行task_master.py的机器
server = os.environ.get('MT_MANAGER_HOST', '127.0.0.1')
port = int(os.environ.get('MT_MANAGER_PORT', '5000'))
authkey = os.environ.get('MT_MANAGER_AUTHKEY', 'abc').encode()
sleep = float(os.environ.get('MT_TASK_SLEEP', '1'))
print("connect to server %s" % server)

# 端口和验证码注意保持与task_master.py设置的完全一致
q = QueueManager(address=(server, port), authkey=authkey)

# 从网络连接
q.connect()

# 获取queue对象
task = q.get_task_queue()
result = q.get_result_queue()

# 从task队列获取任务u，并把结果写入result队列
for i in range(10):
    try:
        n = task.get(timeout=1)
        print("task run %d * %d" % (n, n))
        r = '%d * %d = %d' % (n, n, n*n)
        time.sleep(sleep)
        result.put(r)
    except:
        print("task queue is empty")
# 处理结束
print("worker exit")
