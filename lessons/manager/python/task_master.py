# task_master.py: the master from seed 001 ("分布式进程"), typos fixed, logic unchanged.
#
# Fixed: `import time,random，queue` (a full-width comma), `lamba` -> lambda,
# `send_queue` -> task_queue (the name defined above it).
# Added for the tests, through the environment only: MT_MANAGER_HOST,
# MT_MANAGER_PORT (0 = any free port), MT_MANAGER_AUTHKEY, and one line that
# prints the address (with port 0 nobody could find the master otherwise).
#
# Run it against C++ workers:
#   python3 task_master.py &
#   bazel run //lessons/manager -- --role=worker --server=127.0.0.1:5000 --authkey=abc
import os
import time, random, queue
from multiprocessing.managers import BaseManager

# 发送任务队列
task_queue = queue.Queue()

# 接收任务队列
receive_queue = queue.Queue()

# 从BaseManager继承的QueueManager
class QueueManager(BaseManager):
    pass

# 把两个队列都注册到网络上去，callable参数关联queue对象

QueueManager.register('get_task_queue', callable=lambda: task_queue)
QueueManager.register('get_result_queue', callable=lambda: receive_queue)

host = os.environ.get('MT_MANAGER_HOST', '')
port = int(os.environ.get('MT_MANAGER_PORT', '5000'))
authkey = os.environ.get('MT_MANAGER_AUTHKEY', 'abc').encode()

# 绑定端口，并设置验证码abc
manager = QueueManager(address=(host, port), authkey=authkey)

# 启动manager
manager.start()
print("master listening on %s:%d" % manager.address, flush=True)

# 获得通过网络访问的Queue对象

task = manager.get_task_queue()
result = manager.get_result_queue()

# 放几个任务进去

for i in range(10):
    n = random.randint(0, 10000)
    print("put task %d" % n)
    task.put(n)

# 从result队列中读取结果

for i in range(10):
    r = result.get(timeout=10)
    print("result: %s" % r)

# 关闭
manager.shutdown()
print("master exit")
