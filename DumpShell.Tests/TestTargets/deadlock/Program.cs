using TestTargets;

namespace App;

/// <summary>A lock object the deadlock target's threads take (its type and name make it easy to find on the heap).</summary>
public sealed class Resource
{
    public Resource(string name) => Name = name;
    public string Name { get; }
    public override string ToString() => Name;
}

/// <summary>
/// Deadlock target: thread "locker-1" locks resource-1 then resource-2, thread "locker-2" locks resource-2
/// then resource-1; a barrier makes sure each holds its first lock before asking for the second. The main
/// thread waits until both are blocked, writes its facts and fails fast to get a dump. With a second argument
/// "--hang" it writes its facts and then sleeps instead, so a test can take a core of the live, hung process with
/// createdump (a core with no signal: the hang is the only failure in it).
/// </summary>
public static class Program
{
    private static readonly Resource s_first = new("resource-1");
    private static readonly Resource s_second = new("resource-2");
    private static readonly Barrier s_barrier = new(2);
    private static Facts s_facts = null!;

    public static int Main(string[] args)
    {
        s_facts = new Facts("deadlock", args);
        var one = new Thread(() => Lock("locker-1", s_first, s_second)) { Name = "locker-1", IsBackground = true };
        var two = new Thread(() => Lock("locker-2", s_second, s_first)) { Name = "locker-2", IsBackground = true };
        one.Start();
        two.Start();

        // Both threads blocked in Monitor.Enter on their second lock (or 10 s, then dump whatever there is).
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline &&
               !((one.ThreadState & ThreadState.WaitSleepJoin) != 0 && (two.ThreadState & ThreadState.WaitSleepJoin) != 0 && s_barrier.CurrentPhaseNumber > 0))
            Thread.Sleep(20);
        Thread.Sleep(300); // let the runtime settle both waits on the locks' sync blocks

        s_facts.Set("locks", new Dictionary<string, object>
        {
            ["type"] = typeof(Resource).FullName!,
            ["locker-1"] = new Dictionary<string, string> { ["holds"] = s_first.Name, ["waitsFor"] = s_second.Name },
            ["locker-2"] = new Dictionary<string, string> { ["holds"] = s_second.Name, ["waitsFor"] = s_first.Name },
        });
        s_facts.Write();
        if (args.Length > 1 && args[1] == "--hang")
        {
            Thread.Sleep(Timeout.Infinite); // the test takes its core and kills the process
            return 0;
        }
        Environment.FailFast("deadlock target: dumping on purpose");
        return 0;
    }

    private static void Lock(string name, Resource first, Resource second)
    {
        s_facts.AddThread(name);
        lock (first)
        {
            s_barrier.SignalAndWait();
            lock (second)
            {
                Console.WriteLine($"{name}: no deadlock?");
            }
        }
    }
}
