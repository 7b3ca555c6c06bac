using System.Runtime.CompilerServices;
using TestTargets;

namespace App;

/// <summary>The exception the crash target dies of; its inner exception is an InvalidOperationException.</summary>
public sealed class OrderProcessingException : Exception
{
    public OrderProcessingException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// Crash target: on a thread named "worker-crash", A() calls B() calls C(), which throws
/// App.OrderProcessingException("order 42 failed") with an inner InvalidOperationException("inventory is empty").
/// Nobody catches it, so the runtime's unhandled-exception path runs createdump.
/// </summary>
public static class Program
{
    private static Facts s_facts = null!;

    public static int Main(string[] args)
    {
        s_facts = new Facts("crash", args);
        s_facts.Set("exception", new Dictionary<string, object>
        {
            ["type"] = typeof(OrderProcessingException).FullName!,
            ["message"] = "order 42 failed",
            ["innerType"] = typeof(InvalidOperationException).FullName!,
            ["innerMessage"] = "inventory is empty",
            ["thread"] = "worker-crash",
            // The throwing thread's managed frames, innermost first.
            ["methods"] = new[] { "App.Program.C", "App.Program.B", "App.Program.A", "App.Program.WorkerMain" },
        });
        var worker = new Thread(WorkerMain) { Name = "worker-crash" };
        worker.Start();
        worker.Join();
        return 0;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.NoOptimization)]
    private static void WorkerMain()
    {
        s_facts.AddThread("worker-crash");
        s_facts.Write();
        A();
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.NoOptimization)]
    public static void A() => B();

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.NoOptimization)]
    public static void B() => C();

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.NoOptimization)]
    public static void C()
    {
        try
        {
            TakeFromInventory();
        }
        catch (InvalidOperationException e)
        {
            throw new OrderProcessingException("order 42 failed", e);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.NoOptimization)]
    private static void TakeFromInventory() => throw new InvalidOperationException("inventory is empty");
}
