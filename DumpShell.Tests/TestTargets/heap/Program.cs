using System.Runtime.CompilerServices;
using TestTargets;

namespace App;

/// <summary>The type the heap target allocates exactly <see cref="Program.Count"/> times.</summary>
public sealed class Order
{
    public int Id;
    public string Customer = "";
    public decimal Amount;
}

/// <summary>
/// Heap target: allocates exactly 1234 App.Order objects, holds them in a static list, writes its facts and
/// fails fast, so createdump writes a dump with the heap (DOTNET_DbgMiniDumpType=2).
/// </summary>
public static class Program
{
    public const int Count = 1234;
    private static readonly List<Order> s_orders = new(Count);

    public static int Main(string[] args)
    {
        var facts = new Facts("heap", args);
        Allocate();
        facts.Set("objectType", typeof(Order).FullName!);
        facts.Set("objectCount", s_orders.Count);
        facts.Write();
        Environment.FailFast("heap target: dumping on purpose with " + s_orders.Count + " orders");
        GC.KeepAlive(s_orders);
        return 0;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Allocate()
    {
        for (int i = 0; i < Count; i++)
            s_orders.Add(new Order { Id = i, Customer = "customer-" + (i % 17), Amount = i * 1.25m });
    }
}
